/** @module Reads one chunk of a table, in key order after a given key, into snapshot rows shaped like pgoutput's. */
import type postgres from 'postgres'
import { PgToBrokersError } from '../errors.ts'
import { quoteIdent, quoteLiteral, quoteQualifiedName } from '../pg/identifiers.ts'
import { OUTPUT_SETTINGS } from '../pg/replication.ts'
import { Tuple } from '../pg/pgoutput/tuple.ts'
import { COLUMN_NULL, COLUMN_TEXT } from '../pg/pgoutput/tags.ts'
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

const utf8 = new TextDecoder()

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
  const rows = (await tx.unsafe(query.text, query.parameters).raw()) as unknown as (Uint8Array | null)[][]
  const keyIndexes = table.keyColumns.map((k) => k.index)
  const tuples = tuplesOf(rows, table.relation.columns.length)
  const changes: SnapshotChange[] = []
  for (let i = 0; i < rows.length; i++) changes.push(new SnapshotChange(table.relation, tuples[i]!, keyIndexes, position, i))
  const last = rows[rows.length - 1]
  const lastKey = last ? keyIndexes.map((k) => keyText(last[k], table, k)) : undefined
  return { changes, lastKey, rows: changes.length }
}

/**
 * `SELECT <columns> FROM <table> WHERE (<keys>) > ($1::<type>, …) AND <where> ORDER BY <keys>
 * LIMIT <n>`, with the key values bound as text and cast to the key columns' types.
 */
export function chunkQuery(table: SnapshotTable, after: readonly string[] | undefined, limit: number): { text: string; parameters: string[] } {
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
  if (after !== undefined) conditions.push(`(${keyList}) > (${keys.map((k, i) => `$${i + 1}::${k.typeSql}`).join(', ')})`)
  if (table.where !== undefined) conditions.push(whereCondition(table.where))
  if (table.rowFilter !== undefined) conditions.push(`(${table.rowFilter})`)
  let select = `SELECT ${columns} FROM ${table.partitioned ? '' : 'ONLY '}${quoteQualifiedName(table.qualified)}`
  if (conditions.length > 0) select += ` WHERE ${conditions.join(' AND ')}`
  if (keys.length > 0) select += ` ORDER BY ${keyList}`
  if (limit !== Number.POSITIVE_INFINITY) select += ` LIMIT ${Math.max(0, Math.floor(limit))}`
  return { text: select, parameters: after ? [...after] : [] }
}

/**
 * The rows as pgoutput TupleData ('n', or 't' + length + the text), all in one buffer, so formats
 * read them as they read streamed rows. Each value is the server's text output, as pgoutput sends it.
 */
function tuplesOf(rows: readonly (Uint8Array | null)[][], columnCount: number): Tuple[] {
  let size = 0
  for (const row of rows) {
    if (row.length !== columnCount) throw new Error(`a snapshot row has ${row.length} columns, the table ${columnCount}`)
    size += 2
    for (const value of row) size += value === null ? 1 : 5 + value.length
  }
  const bytes = new Uint8Array(size)
  const view = new DataView(bytes.buffer)
  const tuples: Tuple[] = []
  let at = 0
  for (const row of rows) {
    const start = at
    view.setInt16(at, columnCount)
    at += 2
    for (const value of row) {
      if (value === null) {
        bytes[at++] = COLUMN_NULL
        continue
      }
      bytes[at] = COLUMN_TEXT
      view.setInt32(at + 1, value.length)
      bytes.set(value, at + 5)
      at += 5 + value.length
    }
    tuples.push(new Tuple(bytes.subarray(start, at), 2, columnCount, false))
  }
  return tuples
}

function keyText(value: Uint8Array | null | undefined, table: SnapshotTable, index: number): string {
  if (value == null) throw new Error(`key column ${table.relation.fields[index]} of a snapshot row of ${table.relation.qualifiedName} is NULL`)
  return utf8.decode(value)
}
