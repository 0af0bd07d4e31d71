/** @module Writing a logical message into the WAL (pg_logical_emit_message), as the tool's own markers do. */
import type postgres from 'postgres'
import { parseLsn, type Lsn } from './lsn.ts'

/**
 * Emits a transactional logical message and resolves with its position. Transactional: it belongs
 * to a transaction that commits in this database, whose commit flushes the WAL at once (a
 * non-transactional message waits for the WAL writer), so the stream sees it without delay.
 */
export async function emitTransactionalMessage(sql: postgres.Sql, prefix: string, content: string): Promise<Lsn> {
  const [row] = await sql<{ lsn: string }[]>`select pg_logical_emit_message(true, ${prefix}, ${content})::text as lsn`
  return parseLsn(row!.lsn)
}
