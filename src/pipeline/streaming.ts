/** @module Whether to stream in-progress transactions, and what a server failure while doing so means. */
import { PgToBrokersError } from '../errors.ts'

/** 'auto': stream when the server can (PostgreSQL 14+); 'on': require it; 'off': never. */
export type StreamingMode = 'auto' | 'on' | 'off'

/** The first server version (server_version_num) with protocol 2 and streaming of in-progress transactions. */
const STREAMING_SERVER_VERSION = 140000
/** SQLSTATE of an internal server error (elog(ERROR) in logical decoding raises these). */
const INTERNAL_ERROR = 'XX000'

/** Whether to ask for streaming of in-progress transactions. @throws PgToBrokersError for 'on' with a server too old for it. */
export function useStreaming(mode: StreamingMode, serverVersion: number): boolean {
  if (mode === 'off') return false
  const supported = serverVersion >= STREAMING_SERVER_VERSION
  if (mode === 'on' && !supported) {
    throw new PgToBrokersError(
      'streaming_unsupported',
      `postgres.streaming is "on", but PostgreSQL ${serverVersion} cannot stream in-progress transactions (PostgreSQL 14 or later can): use "auto" or "off"`,
    )
  }
  return supported
}

/**
 * An internal error of the server's logical decoding while it streamed in-progress transactions
 * becomes `streamed_decoding_failed`, with advice: decoding the same WAL without streaming may
 * succeed. (Seen on PostgreSQL 15: a streamed transaction that rolls back to a savepoint and then
 * rewrites a table, e.g. ALTER COLUMN TYPE, fails with "could not map filenode … to relation OID";
 * without streaming the same transaction decodes.) Other errors pass through unchanged.
 */
export function explainStreamingFailure(error: unknown): unknown {
  if (!(error instanceof PgToBrokersError) || error.code !== 'pg_error') return error
  if ((error.cause as { code?: unknown } | undefined)?.code !== INTERNAL_ERROR) return error
  return new PgToBrokersError(
    'streamed_decoding_failed',
    `${error.message}; PostgreSQL failed while streaming an in-progress transaction: with postgres.streaming "off" it sends transactions at commit ` +
      `instead, which may avoid the failure`,
    { cause: error },
  )
}

/** True for the error `explainStreamingFailure` makes: decoding without streaming may get past it. */
export function isStreamedDecodingFailure(error: unknown): boolean {
  return error instanceof PgToBrokersError && error.code === 'streamed_decoding_failed'
}
