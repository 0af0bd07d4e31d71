/** @module What the supervisor does with a failed run: one entry per error code, and the decision built on it. */
import { PgToBrokersError, type ErrorCode } from '../errors.ts'

/**
 * How a code is treated: `reconnect` when a new connection can cure it (once streaming has
 * started), `standby_waits` when a standby waits for the slot and anyone else stops, `stop` when
 * only a person can fix it.
 */
export type Recovery = 'reconnect' | 'standby_waits' | 'stop'

/**
 * Every code's treatment. A new code must be entered here (the type requires every key), so
 * adding one is a decision, not a default. Configuration and permission errors are final.
 */
export const RECOVERY: { readonly [code in ErrorCode]: Recovery } = {
  pg_config: 'stop',
  pg_tls_config: 'stop',
  pg_unreachable: 'reconnect',
  pg_connection_lost: 'reconnect',
  pg_stream_ended: 'reconnect',
  pg_tls_failed: 'stop',
  pg_auth_failed: 'stop',
  pg_no_role: 'stop',
  pg_no_replication_role: 'stop',
  pg_no_database: 'stop',
  pg_too_many_connections: 'stop',
  pg_permission_denied: 'stop',
  pg_error: 'stop',
  wal_level_not_logical: 'stop',
  messages_unsupported: 'stop',
  streaming_unsupported: 'stop',
  streamed_decoding_failed: 'stop',
  partitioned_table_unsupported: 'stop',
  table_missing: 'stop',
  publication_missing: 'stop',
  publication_missing_table: 'stop',
  slot_missing: 'stop',
  slot_in_use: 'standby_waits',
  slot_lost: 'stop',
  slot_wrong_kind: 'stop',
  slot_wrong_plugin: 'stop',
  slot_wrong_database: 'stop',
  slot_two_phase: 'stop',
  state_table_denied: 'stop',
  snapshot_table_denied: 'stop',
  snapshot_already_running: 'stop',
  snapshot_table_missing: 'stop',
  snapshot_table_not_published: 'stop',
  snapshot_no_primary_key: 'stop',
  snapshot_bad_where: 'stop',
  snapshot_unsupported: 'stop',
  protocol_error: 'stop',
  unexpected_message: 'stop',
  spool_directory: 'stop',
  spool_damaged: 'stop',
  spool_error: 'stop',
  writer_not_ready: 'stop',
  writer_file: 'stop',
  writer_module: 'stop',
  writer_module_remote: 'stop',
  stdout_closed: 'stop',
  dead_letter: 'stop',
  // The Kafka client and the Kinesis writer retry within their own deadlines; past those, the tool stops.
  kafka_config: 'stop',
  kafka_unreachable: 'stop',
  kafka_timeout: 'stop',
  kafka_auth: 'stop',
  kafka_not_authorized: 'stop',
  kafka_unknown_topic: 'stop',
  kafka_message_too_large: 'stop',
  kafka_dead_letter: 'stop',
  kafka_publish: 'stop',
  kinesis_options: 'stop',
  kinesis_no_credentials: 'stop',
  kinesis_credentials_invalid: 'stop',
  kinesis_credentials_expired: 'stop',
  kinesis_access_denied: 'stop',
  kinesis_unreachable: 'stop',
  kinesis_stream_not_found: 'stop',
  kinesis_stream_inactive: 'stop',
  kinesis_partition_key: 'stop',
  kinesis_record_too_large: 'stop',
  kinesis_record_rejected: 'stop',
  kinesis_gave_up: 'stop',
  kinesis_bad_response: 'stop',
  kinesis_request_failed: 'stop',
  kinesis_dead_letter: 'stop',
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

/**
 * Decides the step for a failure from its code's entry in RECOVERY. Failures before the first
 * start fail at once, so bad input fails fast; an error that is not a PgToBrokersError is final.
 */
export function nextStep(error: unknown, state: SupervisorState): SupervisorStep {
  const recovery = recoveryOf(error)
  // Stopping while the connection is lost (e.g. during a server restart) is a clean stop: nothing
  // unconfirmed was delivered-and-forgotten. A writer failure while stopping is still a failure.
  if (state.stopping) return state.started && recovery === 'reconnect' ? 'stop' : 'fail'
  if (state.standby && recovery === 'standby_waits') return 'wait_for_slot'
  return state.started && recovery === 'reconnect' ? 'reconnect' : 'fail'
}

function recoveryOf(error: unknown): Recovery {
  if (!(error instanceof PgToBrokersError)) return 'stop'
  // A code cast in from outside the union (a user's writer) is looked up as an own key only.
  return Object.hasOwn(RECOVERY, error.code) ? RECOVERY[error.code] : 'stop'
}
