/** @module Keeps a pipeline running across lost connections: reconnects with backoff, resumes from the slot. */
import { backoff, sleep } from '../backoff.ts'
import type { Logger } from '../logger.ts'
import { runPipeline, type PipelineOptions } from './pipeline.ts'
import { nextStep } from './recovery.ts'
import { STANDBY_POLL_MS } from './standby.ts'

const FIRST_BACKOFF_MS = 250
const MAX_BACKOFF_MS = 30_000

/**
 * Runs the pipeline; when the connection is lost after streaming had started, waits and starts
 * again from the slot's confirmed position (nothing confirmed was undelivered, so nothing is lost).
 * Failures before the first successful start are thrown at once, so bad input fails fast. Which
 * codes are retried is decided in one table (RECOVERY in recovery.ts).
 */
export async function runSupervised(options: PipelineOptions & { readonly logger: Logger }): Promise<void> {
  let started = false
  let streamed = false
  let failures = 0
  const metrics = options.metrics
  for (;;) {
    try {
      // A waiting standby has passed the start-up checks too: from then on, a lost connection is retried.
      // Once streamed from, the slot must exist: a reconnect never creates one (that would skip the changes since the last confirmation).
      await runPipeline({
        ...options,
        resume: streamed,
        onStreaming: () => {
          if (failures > 0) metrics?.reconnected()
          started = streamed = true
          failures = 0
        },
        onStandbyWaiting: () => ((started = true), metrics?.state('standby')),
      })
      metrics?.state('stopping')
      return
    } catch (error) {
      const step = nextStep(error, { started, standby: options.postgres.standby === true, stopping: options.signal?.aborted === true })
      const retried = step === 'reconnect' || step === 'wait_for_slot'
      metrics?.failure(error, retried)
      metrics?.state(retried ? 'reconnecting' : 'stopping', (error as Error).message)
      if (step === 'stop') return
      if (step === 'fail') throw error
      if (step === 'wait_for_slot') {
        // Another process took the slot between the standby's check and START_REPLICATION: wait again.
        await sleep(STANDBY_POLL_MS, options.signal)
        if (options.signal?.aborted) return
        continue
      }
      const delay = backoff(++failures, FIRST_BACKOFF_MS, MAX_BACKOFF_MS)
      options.logger.warn('connection lost; reconnecting', { reason: (error as Error).message, retryInMs: Math.round(delay) })
      await sleep(delay, options.signal)
      if (options.signal?.aborted) return
    }
  }
}
