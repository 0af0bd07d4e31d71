/** Error codes: what the supervisor does with each one, pinned code by code, and their README table. */
import { readFileSync } from 'node:fs'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { ERROR_CODES, PgToBrokersError, type ErrorCode } from '../../src/errors.ts'
import { RECOVERY, nextStep, type SupervisorState, type SupervisorStep } from '../../src/pipeline/recovery.ts'

/** Codes a new connection can cure: retried with backoff once streaming has started. */
const RECONNECTS = ['pg_connection_lost', 'pg_stream_ended', 'pg_unreachable']
/** A standby waits while another process holds the slot; anyone else stops. */
const STANDBY_WAITS = ['slot_in_use']
/** Everything else stops the tool, whenever it comes. */
const STOPS = [
  'dead_letter',
  'kafka_auth',
  'kafka_config',
  'kafka_dead_letter',
  'kafka_message_too_large',
  'kafka_not_authorized',
  'kafka_publish',
  'kafka_timeout',
  'kafka_unknown_topic',
  'kafka_unreachable',
  'kinesis_access_denied',
  'kinesis_bad_response',
  'kinesis_credentials_expired',
  'kinesis_credentials_invalid',
  'kinesis_dead_letter',
  'kinesis_gave_up',
  'kinesis_no_credentials',
  'kinesis_options',
  'kinesis_partition_key',
  'kinesis_record_rejected',
  'kinesis_record_too_large',
  'kinesis_request_failed',
  'kinesis_stream_inactive',
  'kinesis_stream_not_found',
  'kinesis_unreachable',
  'messages_unsupported',
  'partitioned_table_unsupported',
  'pg_auth_failed',
  'pg_config',
  'pg_error',
  'pg_no_database',
  'pg_no_replication_role',
  'pg_no_role',
  'pg_permission_denied',
  'pg_tls_config',
  'pg_tls_failed',
  'pg_too_many_connections',
  'protocol_error',
  'publication_missing',
  'publication_missing_table',
  'slot_lost',
  'slot_missing',
  'slot_two_phase',
  'slot_wrong_database',
  'slot_wrong_kind',
  'slot_wrong_plugin',
  'snapshot_already_running',
  'snapshot_bad_where',
  'snapshot_no_primary_key',
  'snapshot_table_denied',
  'snapshot_table_missing',
  'snapshot_table_not_published',
  'snapshot_unsupported',
  'spool_damaged',
  'spool_directory',
  'spool_error',
  'state_table_denied',
  'stdout_closed',
  'streamed_decoding_failed',
  'streaming_unsupported',
  'table_missing',
  'unexpected_message',
  'wal_level_not_logical',
  'writer_file',
  'writer_module',
  'writer_module_remote',
  'writer_not_ready',
]

/** Every combination of the supervisor's state, named for the messages. */
const STATES: ReadonlyArray<readonly [string, SupervisorState]> = [false, true].flatMap((started) =>
  [false, true].flatMap((standby) =>
    [false, true].map((stopping) => [`started=${started} standby=${standby} stopping=${stopping}`, { started, standby, stopping }] as const),
  ),
)

/** The step for each state, in the order of STATES. */
function steps(error: unknown): SupervisorStep[] {
  return STATES.map(([, state]) => nextStep(error, state))
}

function errorWith(code: string): PgToBrokersError {
  return new PgToBrokersError(code as ErrorCode, 'message')
}

test('error codes: every code is pinned below, has a meaning and an entry in the recovery table', () => {
  const pinned = [...RECONNECTS, ...STANDBY_WAITS, ...STOPS].sort()
  assertEquals(Object.keys(ERROR_CODES).sort(), pinned, 'a code added to ERROR_CODES needs its supervisor decision pinned here')
  assertEquals(Object.keys(RECOVERY).sort(), pinned)
  for (const [code, meaning] of Object.entries(ERROR_CODES)) assert(/^[a-z][a-z0-9_]*$/.test(code) && meaning.length > 0, code)
})

test('supervisor: a lost connection is retried once started, ends a stop cleanly, and fails start-up at once', () => {
  //                       started=false                      started=true
  //                       standby=false   standby=true       standby=false         standby=true
  //                       run     stop    run     stop       run          stop     run          stop
  const expected = ['fail', 'fail', 'fail', 'fail', 'reconnect', 'stop', 'reconnect', 'stop']
  for (const code of RECONNECTS) assertEquals(steps(errorWith(code)), expected, code)
})

test('supervisor: a slot in use makes a standby wait, started or not, and stops anyone else', () => {
  const expected = ['fail', 'fail', 'wait_for_slot', 'fail', 'fail', 'fail', 'wait_for_slot', 'fail']
  for (const code of STANDBY_WAITS) assertEquals(steps(errorWith(code)), expected, code)
})

test('supervisor: every other code stops the tool in every state', () => {
  for (const code of STOPS) assertEquals(steps(errorWith(code)), Array(STATES.length).fill('fail'), code)
})

test('supervisor: an error that is not a PgToBrokersError stops the tool, whatever its code property says', () => {
  const foreign = Object.assign(new Error('lost'), { code: 'pg_connection_lost' })
  assertEquals(steps(foreign), Array(STATES.length).fill('fail'))
  assertEquals(steps('pg_unreachable'), Array(STATES.length).fill('fail'))
  assertEquals(steps(errorWith('toString')), Array(STATES.length).fill('fail'), 'a code that is no code')
})

test('error codes: the README table lists every code once, with its meaning and what the tool does', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const section = /^### Errors\n([\s\S]*?)^#/m.exec(readme)?.[1] ?? ''
  const matches = [...section.matchAll(/^\| `([a-z0-9_]+)` \| (.*) \| (.*) \|$/gm)]
  assertEquals(matches.map((m) => m[1]).sort(), Object.keys(ERROR_CODES).sort())
  const rows = new Map(matches.map((m) => [m[1]!, { meaning: m[2]!, action: m[3]! }]))
  const said = { reconnect: /^reconnects with backoff/, standby_waits: /^a standby .* waits/, stop: /^stops \(1\)$/ }
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    const row = rows.get(code)!
    assertEquals(row.meaning, meaning, code)
    assert(said[RECOVERY[code as ErrorCode]].test(row.action), `${code}: README says "${row.action}"`)
  }
})
