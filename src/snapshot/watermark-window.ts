/**
 * @module The stream's side of incremental snapshots (DBLog watermarks): a chunk read between a
 * low and a high watermark is delivered at the high watermark, without the rows that a streamed
 * change overtook, so a consumer applying records in order ends equal to the table.
 */
import type { Change } from '../change/change.ts'
import { rowKeyOf } from '../change/row-key.ts'
import type { Lsn } from '../pg/lsn.ts'
import { committedBefore, xidPrecedes, type XidSnapshot } from './xid-snapshot.ts'

/** The logical-message prefix of watermarks; such messages are never delivered as records. */
export const WATERMARK_PREFIX = 'pg_to_brokers.watermark'

/** How a chunk ended at its high watermark. */
export interface ChunkOutcome {
  /** The high watermark's position: the chunk is durable once the batcher confirms it. */
  readonly lsn: Lsn
  readonly delivered: number
  readonly dropped: number
  /** The window could not prove which rows were overtaken: read the chunk again. */
  readonly retry: boolean
}

/** A chunk read between its watermarks, handed over before the high watermark is emitted. */
export interface ReadChunk {
  readonly changes: readonly Change[]
  readonly snapshot: XidSnapshot
}

interface Window {
  readonly table: string
  /** Ring sequence number at the low watermark; undefined until the stream reaches it. */
  openedAt: number | undefined
  chunk: ReadChunk | undefined
  readonly resolve: (outcome: ChunkOutcome) => void
  readonly reject: (error: Error) => void
}

/** Recent row changes of watched tables, remembered so a chunk can tell which of its rows they overtook. */
const RING_SIZE = 1 << 16

const utf8 = new TextDecoder()

/**
 * Keeps, for the tables being snapshotted, the keys of recent changes with their transaction ids.
 * At a high watermark, a chunk row is dropped when its key changed between the watermarks, or
 * changed just before the low one in a transaction the chunk's MVCC snapshot did not see (a
 * commit's WAL precedes the moment other sessions see it).
 */
export class SnapshotWindows {
  readonly #watched = new Map<string, number>()
  readonly #windows = new Map<string, Window>()
  // Unsigned, as pgoutput sends them: a signed array would turn ids past 2^31 negative, and the
  // snapshot's in-progress set (unsigned ids) would then never match them.
  readonly #xids = new Uint32Array(RING_SIZE)
  readonly #tables: string[] = new Array<string>(RING_SIZE)
  readonly #keys: string[] = new Array<string>(RING_SIZE)
  #next = 0
  /** The newest transaction id that fell out of the ring, if any did. */
  #evictedNewest: number | undefined

  /** Starts remembering changes of `table` ("schema.table"); call before its first low watermark. */
  watch(table: string): void {
    this.#watched.set(table, (this.#watched.get(table) ?? 0) + 1)
  }

  unwatch(table: string): void {
    const count = (this.#watched.get(table) ?? 1) - 1
    if (count > 0) this.#watched.set(table, count)
    else this.#watched.delete(table)
  }

  /** True when some table is watched: the stream must then show every row change to `observe`. */
  get active(): boolean {
    return this.#watched.size > 0
  }

  /** Registers the window a low watermark `id` will open; resolves when its high watermark was handled. */
  expect(id: string, table: string): Promise<ChunkOutcome> {
    return new Promise((resolve, reject) => this.#windows.set(id, { table, openedAt: undefined, chunk: undefined, resolve, reject }))
  }

  /** The chunk read inside window `id`; must be given before its high watermark is emitted. */
  chunkRead(id: string, chunk: ReadChunk): void {
    const window = this.#windows.get(id)
    if (window) window.chunk = chunk
  }

  /** Forgets window `id` (its read failed before the high watermark was emitted). */
  cancel(id: string): void {
    this.#windows.delete(id)
  }

  /** Fails every open window: the stream stopped, so no high watermark will come. */
  abandon(error: Error): void {
    for (const window of this.#windows.values()) window.reject(error)
    this.#windows.clear()
  }

  /** Called for each row change and truncate, in stream order. */
  observe(change: Change): void {
    const table = change.relation?.qualifiedName
    if (table === undefined || !this.#watched.has(table)) return
    const slot = this.#next % RING_SIZE
    if (this.#next >= RING_SIZE) {
      const old = this.#xids[slot]!
      if (this.#evictedNewest === undefined || xidPrecedes(this.#evictedNewest, old)) this.#evictedNewest = old
    }
    this.#xids[slot] = change.transactionId
    this.#tables[slot] = table
    // A truncate's key is the table's name, which no row key equals: it stands for every row.
    this.#keys[slot] = rowKeyOf(change)
    this.#next++
  }

  /** True for the messages this class handles (and which are never records). */
  isWatermark(change: Change): boolean {
    return change.message?.prefix === WATERMARK_PREFIX
  }

  /**
   * Handles a watermark from the stream. At a high watermark, hands the chunk's surviving rows to
   * `deliver` in key order, then resolves the window. Watermarks of other processes or of an
   * earlier run (re-sent from the slot) match no window and are ignored.
   */
  async watermark(change: Change, deliver: (row: Change) => void | Promise<void>): Promise<void> {
    const text = utf8.decode(change.message!.content)
    const id = text.slice(0, text.lastIndexOf(':'))
    const window = this.#windows.get(id)
    if (!window) return
    if (text.endsWith(':low')) {
      window.openedAt = this.#next
      return
    }
    if (!text.endsWith(':high') || window.openedAt === undefined) return
    this.#windows.delete(id)
    const chunk = window.chunk
    const overtaken = chunk ? this.#overtaken(window.table, window.openedAt, chunk.snapshot) : undefined
    if (!chunk || overtaken === undefined) {
      window.resolve({ lsn: change.commitLsn, delivered: 0, dropped: 0, retry: true })
      return
    }
    let delivered = 0
    for (const row of chunk.changes) {
      if (overtaken.size > 0 && (overtaken.has(window.table) || overtaken.has(rowKeyOf(row)))) continue
      const pending = deliver(row)
      if (pending) await pending
      delivered++
    }
    window.resolve({ lsn: change.commitLsn, delivered, dropped: chunk.changes.length - delivered, retry: false })
  }

  /**
   * The keys the chunk must not deliver; undefined when the ring no longer holds everything that
   * decides it (the window itself, or a transaction the snapshot may not have seen).
   */
  #overtaken(table: string, openedAt: number, snapshot: XidSnapshot): Set<string> | undefined {
    const oldest = Math.max(0, this.#next - RING_SIZE)
    if (openedAt < oldest) return undefined
    if (this.#evictedNewest !== undefined && !xidPrecedes(this.#evictedNewest, snapshot.xmin)) return undefined
    const keys = new Set<string>()
    for (let seq = oldest; seq < this.#next; seq++) {
      const slot = seq % RING_SIZE
      if (this.#tables[slot] !== table) continue
      if (seq >= openedAt || !committedBefore(snapshot, this.#xids[slot]!)) keys.add(this.#keys[slot]!)
    }
    return keys
  }
}
