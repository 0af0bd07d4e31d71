/**
 * @module Incremental snapshots while the stream flows: requested tables are read chunk by chunk
 * between watermarks (see watermark-window.ts), and a chunk's progress is stored only once its
 * records are durable, so a restart resumes at the last finished chunk.
 */
import type postgres from 'postgres'
import { sleep } from '../backoff.ts'
import { PgToBrokersError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { quoteQualifiedName } from '../pg/identifiers.ts'
import { emitTransactionalMessage } from '../pg/logical-message.ts'
import { readChunk } from './chunk-reader.ts'
import type { DurablePosition } from './durable-position.ts'
import { parseSnapshotTableText, type SnapshotProgressStore, type SnapshotRequest } from './progress-store.ts'
import { describeSnapshotTable, type SnapshotTable } from './table.ts'
import { WATERMARK_PREFIX, type ChunkOutcome, type SnapshotWindows } from './watermark-window.ts'
import { parseXidSnapshot } from './xid-snapshot.ts'
import type { ProgressDisplay } from './progress-display.ts'

export interface IncrementalOptions {
  /** Connections for reading (at least parallelTables + 1); watermarks go through them too. */
  readonly sql: postgres.Sql
  readonly store: SnapshotProgressStore
  readonly windows: SnapshotWindows
  readonly durable: DurablePosition
  readonly slot: string
  readonly publication: string
  readonly chunkSize: number
  readonly parallelTables: number
  readonly progress: ProgressDisplay
  readonly logger: Logger
  /** Aborts when the stream stops: chunks in flight are left for the next run. */
  readonly signal: AbortSignal
  readonly pollIntervalMs?: number
}

/** A pause before a request whose chunk failed (a lost connection, say) is tried again. */
const RETRY_DELAY_MS = 2000

/** Runs requested snapshots until the signal aborts; never rejects (failures are logged and stored). */
export async function runIncrementalSnapshots(options: IncrementalOptions): Promise<void> {
  const running = new Map<string, Promise<void>>()
  const run = randomRunId()
  while (!options.signal.aborted) {
    try {
      for (const request of await options.store.pending(options.slot)) {
        if (running.has(request.id) || running.size >= options.parallelTables) continue
        const task = snapshotTable(options, request, run)
          .catch((error) => handleFailure(options, request, error))
          .finally(() => running.delete(request.id))
        running.set(request.id, task)
      }
    } catch (error) {
      if (!options.signal.aborted) options.logger.warn('could not read snapshot requests; trying again', { reason: messageOf(error) })
    }
    await sleep(options.pollIntervalMs ?? 1000, options.signal)
  }
  await Promise.allSettled(running.values())
}

/** Reads one table chunk by chunk, from where its request stopped; stops early when the request is cancelled. */
async function snapshotTable(options: IncrementalOptions, request: SnapshotRequest, run: string): Promise<void> {
  const name = quoteQualifiedName(parseSnapshotTableText(request.table))
  const table = await describeSnapshotTable(options.sql, name, options.publication, request.where ?? undefined)
  if (table.keyColumns.length === 0) throw keylessResume(request)
  if (request.status === 'requested' && !(await options.store.start(request.id))) return
  options.logger.info('snapshot of a table started', { table: request.table, request: request.id, resumedAfter: request.lastKey ? 'a stored key' : 'none' })
  options.progress.tableStarted(request.table, request.rowsEstimate ?? table.estimatedRows, request.rowsDone)
  options.windows.watch(table.relation.qualifiedName)
  try {
    const rows = await readChunks(options, table, request, run)
    if (rows === undefined) {
      options.logger.info('snapshot of a table cancelled', { table: request.table, request: request.id })
      return
    }
    await options.store.finish(request.id)
    options.progress.tableDone(request.table)
    options.logger.info('snapshot of a table finished', { table: request.table, request: request.id, rows })
  } finally {
    options.windows.unwatch(table.relation.qualifiedName)
  }
}

/** The chunks after the stored key, each stored once durable; resolves with the rows read, or undefined when cancelled. */
async function readChunks(options: IncrementalOptions, table: SnapshotTable, request: SnapshotRequest, run: string): Promise<number | undefined> {
  let active = true
  let stored: Promise<unknown> = Promise.resolve()
  let after = request.lastKey ?? undefined
  let rowsDone = request.rowsDone
  for (let chunk = 0; active; chunk++) {
    const read = await readBetweenWatermarks(options, table, request.id, `${request.id}:${run}:${chunk}`, after)
    if (read.outcome.retry) continue
    rowsDone += read.rows
    options.progress.rows(request.table, read.rows)
    const lastKey = read.lastKey ?? after ?? null
    const done = rowsDone
    // Progress follows durability in order; the next chunk need not wait for it. A cancelled request takes no more progress.
    stored = stored
      .then(() => options.durable.after(read.outcome.lsn))
      .then(async () => {
        if (!(await options.store.advance(request.id, lastKey, done))) active = false
      })
    stored.catch(() => {}) // awaited below; a stop rejects it before then
    if (read.rows < options.chunkSize || !read.lastKey) break
    after = read.lastKey
  }
  await stored
  return active ? rowsDone : undefined
}

interface WindowedRead {
  readonly outcome: ChunkOutcome
  readonly rows: number
  readonly lastKey: string[] | undefined
}

/** Low watermark, the chunk in its own REPEATABLE READ transaction, high watermark; resolves when the stream passed the high one. */
async function readBetweenWatermarks(
  options: IncrementalOptions,
  table: SnapshotTable,
  requestId: string,
  windowId: string,
  after: readonly string[] | undefined,
): Promise<WindowedRead> {
  const outcome = options.windows.expect(windowId, table.relation.qualifiedName)
  outcome.catch(() => {}) // awaited below; a stop rejects it before then
  try {
    const lowLsn = await emitTransactionalMessage(options.sql, WATERMARK_PREFIX, `${windowId}:low`)
    const { snapshot, chunk } = await options.sql.begin('isolation level repeatable read read only', async (tx) => {
      const [row] = await tx<{ snapshot: string }[]>`select pg_current_snapshot()::text as snapshot`
      return { snapshot: parseXidSnapshot(row!.snapshot), chunk: await readChunk(tx, table, after, options.chunkSize, { requestId, commitLsn: lowLsn }) }
    })
    options.windows.chunkRead(windowId, { changes: chunk.changes, snapshot })
    await emitTransactionalMessage(options.sql, WATERMARK_PREFIX, `${windowId}:high`)
    return { outcome: await outcome, rows: chunk.rows, lastKey: chunk.lastKey }
  } catch (error) {
    options.windows.cancel(windowId)
    throw error
  }
}

async function handleFailure(options: IncrementalOptions, request: SnapshotRequest, error: unknown): Promise<void> {
  if (options.signal.aborted) return
  if (error instanceof PgToBrokersError && error.code.startsWith('snapshot_')) {
    // A request that can never succeed is marked failed, so it is not tried forever; the stream goes on.
    options.logger.error(`snapshot of ${request.table} failed: ${error.message}`, { code: error.code, request: request.id })
    await options.store.fail(request.id, error.message).catch(() => {})
    return
  }
  options.logger.warn(`snapshot of ${request.table} interrupted; it resumes from its last finished chunk`, { reason: messageOf(error) })
  await sleep(RETRY_DELAY_MS, options.signal)
}

function keylessResume(request: SnapshotRequest): PgToBrokersError {
  return new PgToBrokersError(
    'snapshot_no_primary_key',
    `table ${request.table} has no primary key, so it cannot be read in chunks while changes stream: ` +
      'add a primary key, or snapshot it with --snapshot-mode initial on a new slot (it is then read whole)',
  )
}

function randomRunId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
