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
      const step = nextStep(error, { started, standby: options.postgres.standby === true, stopping: options.signal?.aborted === true })
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

/** Where the supervisor stands when a run fails. */
export interface SupervisorState {
  /** Streaming (or a standby's waiting) had begun: the start-up checks passed. */
  readonly started: boolean
  readonly standby: boolean
  /** The stop signal was given. */
  readonly stopping: boolean
}

/**
 * What the supervisor does after a failed run: `reconnect` with backoff, `wait_for_slot` (a
 * standby whose slot another process holds), `stop` cleanly, or `fail` by throwing the error.
 */
export type SupervisorStep = 'reconnect' | 'wait_for_slot' | 'stop' | 'fail'

/** Decides the step for a failure; pure, so that the decision for every code can be tested. */
export function nextStep(error: unknown, state: SupervisorState): SupervisorStep {
  // Stopping while the connection is lost (e.g. during a server restart) is a clean stop: nothing
  // unconfirmed was delivered-and-forgotten. A writer failure while stopping is still a failure.
  if (state.stopping) return state.started && isTransient(error) ? 'stop' : 'fail'
  if (state.standby && isSlotInUse(error)) return 'wait_for_slot'
  return state.started && isTransient(error) ? 'reconnect' : 'fail'
}

function isSlotInUse(error: unknown): boolean {
  return error instanceof PgToBrokersError && error.code === 'slot_in_use'
}

function isTransient(error: unknown): boolean {
  return error instanceof PgToBrokersError && TRANSIENT_CODES.has(error.code)
}
