/**
 * @module The initial snapshot: every table read as of the slot's first change, through the
 * snapshot its creation exported, before the stream starts. Rows are in the snapshot or in the
 * stream, exactly once. Progress is stored per durable chunk; an interrupted run is finished by
 * incremental snapshots from the stored keys (see incremental.ts).
 */
import type postgres from 'postgres'
import type { Change } from '../change/change.ts'
import type { Logger } from '../logger.ts'
import { quoteLiteral, quoteQualifiedName, type QualifiedName } from '../pg/identifiers.ts'
import { formatLsn, type Lsn } from '../pg/lsn.ts'
import { readChunk } from './chunk-reader.ts'
import { parseSnapshotTableText, snapshotTableText, type SnapshotProgressStore, type SnapshotRequest } from './progress-store.ts'
import type { ProgressDisplay } from './progress-display.ts'
import { describeSnapshotTable } from './table.ts'

/** Hands a chunk's records to the writer; resolves once they are queued, with a promise of their durability. */
export type ChunkDelivery = (changes: readonly Change[]) => Promise<Promise<void>>

export interface InitialSnapshotOptions {
  /** parallelTables connections, with the session settings of the replication connection. */
  readonly sql: postgres.Sql
  /** From CREATE_REPLICATION_SLOT … EXPORT_SNAPSHOT; valid while that connection stays idle. */
  readonly snapshotName: string
  /** The slot's consistent point: the position the snapshot's rows are shown at. */
  readonly lsn: Lsn
  readonly store: SnapshotProgressStore
  readonly publication: string
  readonly chunkSize: number
  readonly parallelTables: number
  readonly deliver: ChunkDelivery
  readonly progress: ProgressDisplay
  readonly logger: Logger
  readonly signal?: AbortSignal | undefined
}

/** What to snapshot: the tables ("schema.table"; empty: every published one) of a slot's publication, without the tool's own. */
export interface InitialTargets {
  readonly slot: string
  readonly publication: string
  readonly tables: readonly string[]
  readonly excluded: readonly QualifiedName[]
}

/**
 * Records a request per table before the slot exists: a crash after the slot's creation then
 * leaves requests to resume, never a slot whose tables were not copied. Requests of an earlier
 * slot of this name describe a stream that no longer exists and are cancelled.
 */
export async function requestInitialSnapshot(sql: postgres.Sql, store: SnapshotProgressStore, targets: InitialTargets): Promise<SnapshotRequest[]> {
  const tables = targets.tables.length > 0 ? targets.tables : await publishedTables(sql, targets.publication, targets.excluded)
  const described = []
  for (const name of tables) {
    const table = await describeSnapshotTable(sql, name, targets.publication, undefined)
    described.push({ table: snapshotTableText(table.qualified), rowsEstimate: table.estimatedRows })
  }
  await store.cancel(targets.slot)
  return await store.request(targets.slot, described, 'initial')
}

/**
 * Reads the requested tables and resolves when all their records are durable.
 * @throws what reading or delivering threw; requests not finished stay to be resumed.
 */
export async function runInitialSnapshot(options: InitialSnapshotOptions, requests: readonly SnapshotRequest[]): Promise<void> {
  options.logger.info('initial snapshot started', { tables: requests.length, lsn: formatLsn(options.lsn) })
  const queue = [...requests]
  const workers = Array.from({ length: Math.min(options.parallelTables, queue.length) }, async () => {
    for (let request = queue.shift(); request; request = queue.shift()) await readTable(options, request)
  })
  await Promise.all(workers)
  options.logger.info('initial snapshot finished', { tables: requests.length })
}

/** One table, chunk by chunk, in one transaction on the exported snapshot. */
async function readTable(options: InitialSnapshotOptions, request: SnapshotRequest): Promise<void> {
  await options.store.start(request.id)
  const table = await describeSnapshotTable(options.sql, quoteQualifiedName(parseSnapshotTableText(request.table)), options.publication, undefined)
  const name = table.relation.qualifiedName
  options.progress.tableStarted(name, request.rowsEstimate ?? table.estimatedRows)
  const chunked = table.keyColumns.length > 0
  let stored: Promise<unknown> = Promise.resolve()
  await options.sql.begin('isolation level repeatable read read only', async (tx) => {
    await tx.unsafe(`set transaction snapshot ${quoteLiteral(options.snapshotName)}`)
    const position = { requestId: request.id, commitLsn: options.lsn }
    // A table without a key cannot be resumed by key: it is read in one piece.
    const limit = chunked ? options.chunkSize : Infinity
    let after: string[] | undefined
    let rowsDone = 0
    let next = readChunk(tx, table, undefined, limit, position)
    for (;;) {
      const chunk = await next
      // The server reads the next chunk while this one is encoded and handed over.
      if (chunked && chunk.rows === options.chunkSize && chunk.lastKey) {
        next = readChunk(tx, table, chunk.lastKey, limit, position)
        next.catch(() => {}) // awaited next round; a stop in between must not leave it unhandled
      }
      if (options.signal?.aborted) return
      const durable = await options.deliver(chunk.changes)
      rowsDone += chunk.rows
      options.progress.rows(name, chunk.rows)
      const lastKey = chunk.lastKey ?? after ?? null
      const done = rowsDone
      stored = stored.then(() => durable).then(() => options.store.advance(request.id, lastKey, done))
      stored.catch(() => {}) // awaited after the transaction; a failed delivery rejects it before then
      if (!chunked || chunk.rows < options.chunkSize || !chunk.lastKey) return
      after = chunk.lastKey
    }
  })
  await stored
  if (options.signal?.aborted) return
  await options.store.finish(request.id)
  options.progress.tableDone(name)
}

/** The tables a publication publishes (its roots under publish_via_partition_root), without the tool's own. */
async function publishedTables(sql: postgres.Sql, publication: string, excluded: readonly QualifiedName[]): Promise<string[]> {
  const rows = await sql<{ schema: string; name: string }[]>`
    select schemaname as schema, tablename as name from pg_publication_tables where pubname = ${publication} order by 1, 2`
  return rows.filter((row) => !excluded.some((own) => own.schema === row.schema && own.name === row.name)).map((row) => quoteQualifiedName(row))
}
