/** @module The one error class the tool raises for problems a user can fix, and the codes it carries; the CLI prints its message and exits non-zero. */

/**
 * Every code a PgToBrokersError carries, with what it means. The codes are stable: programs match
 * on them. What the supervisor does with each one is in `src/pipeline/recovery.ts`.
 */
export const ERROR_CODES = {
  // Connecting to PostgreSQL
  pg_config: 'the connection string or a PG* environment variable is invalid, or names a parameter not supported',
  pg_tls_config: 'the TLS settings (sslmode, sslrootcert) are invalid, or the root certificate file cannot be read',
  pg_unreachable: 'PostgreSQL cannot be reached: connection refused, host not found, timed out, or no unix socket there',
  pg_connection_lost: 'an open connection to PostgreSQL was lost (reset, closed, or the server shut down)',
  pg_stream_ended: 'PostgreSQL ended the replication stream (server shutdown or connection lost)',
  pg_tls_failed: 'the TLS handshake failed: the server does not accept TLS, or its certificate cannot be verified',
  pg_auth_failed: 'PostgreSQL refused the user: wrong user name or password, or no pg_hba.conf line for it',
  pg_no_role: 'the role does not exist',
  pg_no_replication_role: 'the role may not start logical replication (it lacks REPLICATION)',
  pg_no_database: 'the database does not exist',
  pg_too_many_connections: 'PostgreSQL has no connection slot free',
  pg_permission_denied: 'the role lacks a privilege a query needs',
  pg_error: 'any other PostgreSQL error (its SQLSTATE is in the message)',
  // The server, the publication and the slot
  wal_level_not_logical: 'the server runs with a wal_level other than logical',
  messages_unsupported: 'postgres.messagePrefixes needs PostgreSQL 14 or later',
  streaming_unsupported: 'streaming of in-progress transactions needs PostgreSQL 14 or later',
  streamed_decoding_failed: 'the server failed while streaming an in-progress transaction (postgres.streaming "off" may avoid it)',
  partitioned_table_unsupported: 'PostgreSQL before 13 cannot publish a partitioned table',
  table_missing: 'a configured table does not exist',
  publication_missing: 'the publication does not exist and createPublication is off',
  publication_missing_table: 'the publication does not include a configured table',
  slot_missing: 'the replication slot does not exist and createSlot is off',
  slot_in_use: 'another process streams from the replication slot',
  slot_lost: 'the slot was dropped or invalidated after use: changes may be missing (see "Lost slots")',
  slot_wrong_kind: 'the slot is not a logical slot',
  slot_wrong_plugin: 'the slot uses another output plugin than pgoutput',
  slot_wrong_database: 'the slot belongs to another database',
  slot_two_phase: 'the slot was created with two_phase',
  state_table_denied: 'the role may not write the slot record table',
  snapshot_table_denied: 'the role may not create or write the snapshot table (pg_to_brokers_snapshots)',
  snapshot_already_running: 'a snapshot of the table is already requested or running for the slot',
  snapshot_table_missing: 'a table named for a snapshot does not exist',
  snapshot_table_not_published: 'the publication does not publish a table named for a snapshot (or shows its rows under another table)',
  snapshot_no_primary_key: 'a snapshot read in chunks needs a primary key, and the table has none',
  snapshot_bad_where: "PostgreSQL refused a snapshot's WHERE condition",
  snapshot_unsupported: 'incremental snapshots need PostgreSQL 14 or later',
  // Decoding the stream
  protocol_error: 'pgoutput sent a message out of order or not matching its Relation',
  unexpected_message: 'a streamed-transaction message reached the transaction assembler (an internal error)',
  spool_directory: 'the directory for spool files of streamed transactions is not usable',
  spool_damaged: 'a spool file of a streamed transaction ends inside a message',
  spool_error: 'a spool file was used out of order (an internal error)',
  // Writers
  writer_not_ready: "a writer's publish was called before its init",
  writer_file: 'the file writer cannot open its output file for appending',
  writer_module: 'a writer module cannot be loaded, or does not produce a writer',
  writer_module_remote: 'a remote writer module was named without consent to run code fetched from the network',
  stdout_closed: 'the reader of stdout is gone (EPIPE)',
  dead_letter: 'a dead-letter file cannot be opened for appending',
  // Kafka writer
  kafka_config: "the Kafka writer's options are invalid, a TLS file cannot be read, or the compression is not supported",
  kafka_unreachable: 'the Kafka brokers cannot be reached',
  kafka_timeout: "Kafka did not acknowledge within the writer's deadline",
  kafka_auth: 'the Kafka brokers refused the SASL credentials',
  kafka_not_authorized: "the brokers' ACLs deny what the writer needs",
  kafka_unknown_topic: 'a Kafka topic does not exist (the writer never creates topics)',
  kafka_message_too_large: 'the brokers refused a record as too large, and no dead-letter file takes it',
  kafka_dead_letter: "the Kafka writer's dead-letter file cannot be opened for appending",
  kafka_publish: 'any other Kafka failure',
  // Kinesis writer
  kinesis_options: "the Kinesis writer's options are invalid",
  kinesis_no_credentials: 'no AWS credentials can be found or read',
  kinesis_credentials_invalid: 'Kinesis does not recognise the access key, or rejects the request signature',
  kinesis_credentials_expired: 'the AWS session token has expired',
  kinesis_access_denied: 'the credentials lack a Kinesis permission the writer needs',
  kinesis_unreachable: 'the Kinesis endpoint cannot be reached',
  kinesis_stream_not_found: 'the Kinesis stream does not exist',
  kinesis_stream_inactive: 'the Kinesis stream is neither ACTIVE nor UPDATING',
  kinesis_partition_key: "a record's partition key is empty",
  kinesis_record_too_large: 'a record is over the 1 MiB limit, and no dead-letter file takes it',
  kinesis_record_rejected: 'Kinesis rejected a record with an error no retry can cure',
  kinesis_gave_up: 'a record still failed after the attempts allowed (maxAttempts, maxRetryTimeMs)',
  kinesis_bad_response: 'PutRecords answered with a result count other than the records sent',
  kinesis_request_failed: 'any other failed Kinesis request',
  kinesis_dead_letter: "the Kinesis writer's dead-letter file cannot be opened for appending",
} as const

/** A PgToBrokersError's code: one of the keys of ERROR_CODES, so a misspelt code does not compile. */
export type ErrorCode = keyof typeof ERROR_CODES

/**
 * A failure with a message that says what went wrong and what to do. `code` is stable and meant
 * for programs (tests, supervisors); the message is for people and never carries secrets.
 */
export class PgToBrokersError extends Error {
  override name = 'PgToBrokersError'
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
