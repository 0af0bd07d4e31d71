/** @module Reads one chunk of a table, in key order after a given key, with COPY, into snapshot rows. */
import type postgres from 'postgres'
import { PgToBrokersError } from '../errors.ts'
import { quoteIdent, quoteLiteral, quoteQualifiedName } from '../pg/identifiers.ts'
import { OUTPUT_SETTINGS } from '../pg/replication.ts'
import { CopyTextParser } from './copy-text.ts'
import { SnapshotChange, type SnapshotPosition } from './snapshot-change.ts'
import type { SnapshotTable } from './table.ts'
import { whereCondition } from './where.ts'

export interface Chunk {
  readonly changes: SnapshotChange[]
  /** The text of the last row's key columns (where the next chunk starts); undefined when the chunk is empty. */
  readonly lastKey: string[] | undefined
  readonly rows: number
}

/**
 * Gives the transaction the stream's text output (OUTPUT_SETTINGS: dates, intervals, time zone,
 * floats, bytea), so a row reads as the same text, record and partition key as when streamed,
 * and a key read back as a literal means the same value. Local: it ends with the transaction.
 */
const OUTPUT_SETTINGS_QUERY = `SELECT ${Object.entries(OUTPUT_SETTINGS)
  .map(([name, value]) => `set_config(${quoteLiteral(name)}, ${quoteLiteral(value)}, true)`)
  .join(', ')}`

/** COPY output is handed to the parser in pieces of about this size: one tuple buffer per piece, not per row. */
const PARSE_BYTES = 64 * 1024

/**
 * Reads up to `limit` rows of `table` whose key is greater than `after` (from the start when
 * undefined), in key order, in the caller's transaction `tx` (a transaction: the output
 * settings are set for it), as SnapshotChanges sharing `position`. A table without a key can only be read whole: `after` undefined, `limit` Infinity.
 * @throws PgToBrokersError `snapshot_no_primary_key` for a keyless table read in pieces.
 */
export async function readChunk(
  tx: Pick<postgres.Sql, 'unsafe'>,
  table: SnapshotTable,
  after: readonly string[] | undefined,
  limit: number,
  position: SnapshotPosition,
): Promise<Chunk> {
  const query = chunkQuery(table, after, limit)
  await tx.unsafe(OUTPUT_SETTINGS_QUERY)
  const parser = new CopyTextParser(
    table.relation.columns.length,
    table.keyColumns.map((k) => k.index),
  )
  const changes: SnapshotChange[] = []
  let lastKey: string[] | undefined
  const take = (bytes: Uint8Array): void => {
    for (const row of parser.push(bytes)) {
      changes.push(new SnapshotChange(table.relation, row.tuple, row.key, position, changes.length))
      lastKey = row.key
    }
  }
  const pending: Uint8Array[] = []
  let pendingBytes = 0
  // postgres.js hands over one CopyData (one row) at a time; rows are parsed in larger pieces.
  for await (const data of await tx.unsafe(query).readable()) {
    pending.push(data as Uint8Array)
    pendingBytes += (data as Uint8Array).length
    if (pendingBytes >= PARSE_BYTES) {
      take(concat(pending, pendingBytes))
      pending.length = 0
      pendingBytes = 0
    }
  }
  if (pendingBytes > 0) take(concat(pending, pendingBytes))
  parser.end()
  return { changes, lastKey, rows: changes.length }
}

/**
 * `COPY (SELECT <columns> FROM <table> WHERE (<keys>) > (<after>) AND <where> ORDER BY <keys>
 * LIMIT <n>) TO STDOUT`. COPY takes no parameters, so the key values are literals: E'' strings,
 * whose quoting does not depend on standard_conforming_strings, cast to the key columns' types.
 */
export function chunkQuery(table: SnapshotTable, after: readonly string[] | undefined, limit: number): string {
  const keys = table.keyColumns
  if (keys.length === 0 && (after !== undefined || limit !== Number.POSITIVE_INFINITY)) {
    throw new PgToBrokersError(
      'snapshot_no_primary_key',
      `cannot read ${quoteQualifiedName(table.qualified)} in chunks: it has no primary key: add one (ALTER TABLE ... ADD PRIMARY KEY), or snapshot it as part of the initial snapshot, which reads it whole`,
    )
  }
  if (after !== undefined && after.length !== keys.length) throw new Error(`a chunk starts after ${after.length} key values, the key has ${keys.length}`)
  const columns = table.relation.fields.map(quoteIdent).join(', ')
  const keyList = keys.map((k) => quoteIdent(k.name)).join(', ')
  const conditions: string[] = []
  if (after !== undefined) conditions.push(`(${keyList}) > (${keys.map((k, i) => `${escapedLiteral(after[i]!)}::${k.typeSql}`).join(', ')})`)
  if (table.where !== undefined) conditions.push(whereCondition(table.where))
  if (table.rowFilter !== undefined) conditions.push(`(${table.rowFilter})`)
  let select = `SELECT ${columns} FROM ${table.partitioned ? '' : 'ONLY '}${quoteQualifiedName(table.qualified)}`
  if (conditions.length > 0) select += ` WHERE ${conditions.join(' AND ')}`
  if (keys.length > 0) select += ` ORDER BY ${keyList}`
  if (limit !== Number.POSITIVE_INFINITY) select += ` LIMIT ${Math.max(0, Math.floor(limit))}`
  return `COPY (${select}) TO STDOUT`
}

function escapedLiteral(text: string): string {
  if (text.includes('\0')) throw new Error('a key value cannot contain a NUL character')
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
}

function concat(pieces: readonly Uint8Array[], length: number): Uint8Array {
  if (pieces.length === 1) return pieces[0]!
  const out = new Uint8Array(length)
  let at = 0
  for (const piece of pieces) {
    out.set(piece, at)
    at += piece.length
  }
  return out
}
