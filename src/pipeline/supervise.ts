/** @module Keeps a pipeline running across lost connections: reconnects with backoff, resumes from the slot. */
import { backoff, sleep } from '../backoff.ts'
import { PgToBrokersError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { runPipeline, type PipelineOptions } from './pipeline.ts'
import { STANDBY_POLL_MS } from './standby.ts'

/** Errors that a new connection can cure. Configuration and permission errors are final. */
const TRANSIENT_CODES = new Set(['pg_stream_ended', 'pg_unreachable', 'pg_connection_lost'])
const FIRST_BACKOFF_MS = 250
const MAX_BACKOFF_MS = 30_000

/**
 * Runs the pipeline; when the connection is lost after streaming had started, waits and starts
 * again from the slot's confirmed position (nothing confirmed was undelivered, so nothing is lost).
 * Failures before the first successful start are thrown at once, so bad input fails fast.
 */
export async function runSupervised(options: PipelineOptions & { readonly logger: Logger }): Promise<void> {
  let started = false
  let streamed = false
  let failures = 0
  for (;;) {
    try {
      // A waiting standby has passed the start-up checks too: from then on, a lost connection is retried.
      // Once streamed from, the slot must exist: a reconnect never creates one (that would skip the changes since the last confirmation).
      await runPipeline({ ...options, resume: streamed, onStreaming: () => ((started = streamed = true), (failures = 0)), onStandbyWaiting: () => (started = true) })
      return
    } catch (error) {
      // Stopping while the connection is lost (e.g. during a server restart) is a clean stop: nothing
      // unconfirmed was delivered-and-forgotten. A writer failure while stopping is still a failure.
      if (options.signal?.aborted) {
        if (started && isTransient(error)) return
        throw error
      }
      if (options.postgres.standby && isSlotInUse(error)) {
        // Another process took the slot between the standby's check and START_REPLICATION: wait again.
        await sleep(STANDBY_POLL_MS, options.signal)
        if (options.signal?.aborted) return
        continue
      }
      if (!started || !isTransient(error)) throw error
      const delay = backoff(++failures, FIRST_BACKOFF_MS, MAX_BACKOFF_MS)
      options.logger.warn('connection lost; reconnecting', { reason: (error as Error).message, retryInMs: Math.round(delay) })
      await sleep(delay, options.signal)
      if (options.signal?.aborted) return
    }
  }
}

function isSlotInUse(error: unknown): boolean {
  return error instanceof PgToBrokersError && error.code === 'slot_in_use'
}

function isTransient(error: unknown): boolean {
  return error instanceof PgToBrokersError && TRANSIENT_CODES.has(error.code)
}
