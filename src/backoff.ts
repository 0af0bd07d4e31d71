/** @module Waiting between attempts: one backoff rule and one abortable sleep, for reconnects and broker retries. */

/**
 * Exponential backoff with jitter: a random delay in the upper half of base·2^(attempt−1), capped
 * at `maxMs`. `attempt` counts from 1. Jitter keeps many clients from retrying in step.
 */
export function backoff(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
  return ceiling / 2 + (random() * ceiling) / 2
}

/** Resolves after `ms`, or at once when `signal` aborts (it never rejects); leaves no listener behind. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
