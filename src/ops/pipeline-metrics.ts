/**
 * @module The pipeline's metrics: the hooks the pipeline calls (per batch, per transaction, per
 * server message, one counter increment per row) and the gauges read when scraped.
 */
import type { Change, Operation } from '../change/change.ts'
import type { RelationSchema } from '../change/relations.ts'
import { PgToBrokersError } from '../errors.ts'
import type { Lsn } from '../pg/lsn.ts'
import { Health, type PipelineState, type Readiness } from './health.ts'
import { type CounterChild, MetricsRegistry } from './metrics.ts'
import type { SlotSample } from './slot-sample.ts'
import type { ProgressDisplay } from '../snapshot/progress-display.ts'

const P = 'pg_to_brokers_'

/** Records per batch: 1 up to the largest batch.maxRecords. */
const BATCH_RECORD_BUCKETS = [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 25_000, 100_000]
/** Seconds a writer's publish took: from a millisecond to a minute. */
const PUBLISH_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
const WAL_STATUSES = ['reserved', 'extended', 'unreserved', 'lost'] as const

/** What the live replication stream exposes, read when scraped. */
export interface LiveStream {
  /** Seconds the oldest transaction read but not yet delivered has waited since its commit (0: nothing waits). */
  lagSeconds(nowMs: number): number
  /** Bytes of streamed in-progress transactions spooled to disk now. */
  spooledBytes(): number
}

/** Counts what one replication stream hands to the writer: `row` once per row, `commit` once per transaction. */
export interface StreamCounters {
  row(change: Change): void
  commit(): void
}

export interface PipelineMetricsOptions {
  /** The slot's name: the label of the slot's gauges. */
  readonly slot: string
  /** `/readyz` fails when the streaming pipeline heard nothing from the server for this long. */
  readonly exchangeWindowMs: number
  /** Resident memory in bytes (src/runtime/memory.ts in the CLI). */
  readonly residentMemory?: () => number
  readonly now?: () => number
}

/** A table's row counters, one per operation seen (messages count under the table ""). */
interface TableRows {
  readonly table: string
  readonly byOperation: Partial<Record<Operation, CounterChild>>
}

/** One object per process, shared by every reconnect of the pipeline. Hooks never throw. */
export class PipelineMetrics {
  readonly registry: MetricsRegistry = new MetricsRegistry()
  readonly health: Health
  readonly #now: () => number
  readonly #slot: string
  #live: LiveStream | undefined
  #serverWalEnd: Lsn = 0n
  readonly #rowsByTable = new Map<string, TableRows>()
  #receivedLsn: Lsn = 0n
  #confirmedLsn: Lsn = 0n

  readonly #received = this.registry.gauge({ name: `${P}received_lsn`, help: 'Highest WAL position received from the server (data or keepalive), as a number' })
  readonly #flushed = this.registry.gauge({ name: `${P}flushed_lsn`, help: 'WAL position up to which the writer durably delivered every change' })
  readonly #confirmed = this.registry.gauge({ name: `${P}confirmed_lsn`, help: 'Flush position last sent to the server in a standby status update' })
  readonly #walEnd = this.registry.gauge({ name: `${P}server_wal_end_lsn`, help: "The server's WAL end as last reported on the replication connection" })
  readonly #lagBytes = this.registry.gauge({ name: `${P}lag_bytes`, help: "The server's WAL end minus the confirmed position, in bytes" })
  readonly #lagSeconds = this.registry.gauge({
    name: `${P}lag_seconds`,
    help: 'Seconds since the commit of the oldest transaction read but not yet delivered; 0 when nothing waits',
  })
  readonly #rows = this.registry.counter({
    name: `${P}rows_total`,
    help: 'Changes handed to the writer, by table and operation',
    labelNames: ['table', 'operation'],
  })
  readonly #transactions = this.registry.counter({ name: `${P}transactions_total`, help: 'Transactions with at least one change handed to the writer' })
  readonly #transactionCount = this.#transactions.labels()
  readonly #batches = this.registry.counter({ name: `${P}batches_total`, help: 'Batches the writer published' })
  readonly #batchCount = this.#batches.labels()
  readonly #batchRecords = this.registry.histogram({ name: `${P}batch_records`, help: 'Records per published batch', buckets: BATCH_RECORD_BUCKETS }).labels()
  readonly #publishSeconds = this.registry
    .histogram({ name: `${P}publish_seconds`, help: "Seconds the writer's publish of one batch took", buckets: PUBLISH_SECONDS_BUCKETS })
    .labels()
  readonly #errors = this.registry.counter({ name: `${P}errors_total`, help: 'Failures of the pipeline, by error code, retried or not', labelNames: ['code'] })
  readonly #retries = this.registry.counter({ name: `${P}retries_total`, help: 'Failures retried by reconnecting, by error code', labelNames: ['code'] })
  readonly #reconnects = this.registry.counter({ name: `${P}reconnects_total`, help: 'Times streaming resumed after a lost connection' }).labels()
  readonly #spool = this.registry.gauge({ name: `${P}spool_bytes`, help: 'Bytes of streamed in-progress transactions spooled to disk' }).labels()
  readonly #snapshotRows = this.registry.counter({
    name: `${P}snapshot_rows_total`,
    help: 'Snapshot rows delivered, by table (a resumed table starts from the rows its earlier runs delivered)',
    labelNames: ['table'],
  })
  readonly #snapshotEstimate = this.registry.gauge({
    name: `${P}snapshot_rows_estimate`,
    help: "The server's estimate of a snapshot table's rows",
    labelNames: ['table'],
  })
  readonly #ready = this.registry.gauge({ name: `${P}ready`, help: '1 when /readyz answers 200 (streaming with a recent exchange, or standing by)' }).labels()
  readonly #slotGauges = {
    walLsn: this.registry.gauge({ name: `${P}slot_wal_lsn`, help: "The server's current WAL position at the last slot sample", labelNames: ['slot'] }),
    confirmed: this.registry.gauge({ name: `${P}slot_confirmed_flush_lsn`, help: "The slot's confirmed_flush_lsn at the last sample", labelNames: ['slot'] }),
    lag: this.registry.gauge({ name: `${P}slot_lag_bytes`, help: 'WAL position minus the slot confirmed_flush_lsn at the last sample', labelNames: ['slot'] }),
    retained: this.registry.gauge({
      name: `${P}slot_retained_wal_bytes`,
      help: 'WAL the slot keeps from removal (WAL position minus restart_lsn)',
      labelNames: ['slot'],
    }),
    safe: this.registry.gauge({
      name: `${P}slot_safe_wal_size_bytes`,
      help: 'WAL that can still be written before the slot is invalidated (PostgreSQL 13+, absent when unlimited)',
      labelNames: ['slot'],
    }),
    status: this.registry.gauge({
      name: `${P}slot_wal_status`,
      help: "1 for the slot's wal_status (PostgreSQL 13+), 0 for the others",
      labelNames: ['slot', 'status'],
    }),
    at: this.registry.gauge({ name: `${P}slot_sample_timestamp_seconds`, help: 'When the slot was last sampled (Unix time)', labelNames: ['slot'] }),
  }

  constructor(options: PipelineMetricsOptions) {
    this.#now = options.now ?? Date.now
    this.#slot = options.slot
    this.health = new Health(options.exchangeWindowMs, this.#now)
    const rss = options.residentMemory
    const memory = rss ? this.registry.gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes' }).labels() : undefined
    this.registry.onRender(() => {
      const live = this.#live
      const now = this.#now()
      this.#lagSeconds.labels().set(live ? live.lagSeconds(now) : 0)
      this.#spool.set(live ? live.spooledBytes() : 0)
      const behind = this.#serverWalEnd - this.#confirmedLsn
      this.#lagBytes.labels().set(behind > 0n ? Number(behind) : 0)
      this.#ready.set(this.health.readiness().ready ? 1 : 0)
      if (memory) memory.set(rss!())
    })
  }

  /** `/readyz`'s answer now. */
  readiness(): Readiness {
    return this.health.readiness()
  }

  /** The pipeline's state changed (see Health). */
  state(state: PipelineState, reason?: string): void {
    this.health.enter(state, reason)
  }

  /** START_REPLICATION succeeded: ready from now on. Call the returned function when the stream ends. */
  streamStarted(live: LiveStream): () => void {
    this.#live = live
    this.health.enter('streaming')
    return () => {
      if (this.#live !== live) return
      this.#live = undefined
      if (this.health.state === 'streaming') this.health.enter('starting', 'the replication stream ended')
    }
  }

  /** The last frame of one read from the replication connection (XLogData or keepalive): once per read, not per message. */
  serverFrame(frame: Uint8Array): void {
    this.health.heard()
    if (frame.length < 17) return
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
    // XLogData: 'w', start, WAL end, time; keepalive: 'k', WAL end, time, reply (streaming replication protocol).
    const isData = frame[0] === 0x77
    const received = view.getBigUint64(1)
    const walEnd = isData ? view.getBigUint64(9) : received
    if (received > this.#receivedLsn) (this.#receivedLsn = received), this.#received.labels().set(Number(received))
    if (walEnd > this.#serverWalEnd) (this.#serverWalEnd = walEnd), this.#walEnd.labels().set(Number(walEnd))
  }

  /** Everything up to `lsn` was delivered. */
  flushed(lsn: Lsn): void {
    this.#flushed.labels().set(Number(lsn))
  }

  /** A standby status update went to the server. */
  statusSent(flushed: Lsn): void {
    this.#confirmedLsn = flushed
    this.#confirmed.labels().set(Number(flushed))
  }

  /** Counters for one replication stream: a row costs a comparison and an increment (children are resolved per relation). */
  streamCounters(): StreamCounters {
    let relation: RelationSchema | undefined
    let table = this.#tableRows('')
    let rows = 0
    let committed = 0
    const transactions = this.#transactionCount
    return {
      row: (change) => {
        if (change.relation !== relation) {
          relation = change.relation
          table = this.#tableRows(relation?.qualifiedName ?? '')
        }
        ;(table.byOperation[change.operation] ?? this.#rowChild(table, change.operation)).inc()
        rows++
      },
      commit: () => {
        if (rows === committed) return
        committed = rows
        transactions.inc()
      },
    }
  }

  /** A batch of `records` was published in `seconds`. */
  batchPublished(records: number, seconds: number): void {
    this.#batchCount.inc()
    this.#batchRecords.observe(records)
    this.#publishSeconds.observe(seconds)
  }

  /** The pipeline failed with `error`; `retried` when the supervisor reconnects. */
  failure(error: unknown, retried: boolean): void {
    const code = error instanceof PgToBrokersError ? error.code : 'unknown'
    this.#errors.labels(code).inc()
    if (retried) this.#retries.labels(code).inc()
  }

  /** Streaming resumed after a lost connection. */
  reconnected(): void {
    this.#reconnects.inc()
  }

  /** `display`, with snapshot progress also counted here: rows per table, and each table's estimate. */
  watchSnapshot(display: ProgressDisplay): ProgressDisplay {
    return {
      tableStarted: (table, estimate, rowsDone) => {
        // A resumed table counts the rows of earlier runs once, in this process's counter.
        this.#snapshotRows.labels(table).inc(rowsDone ?? 0)
        if (estimate !== null && estimate > 0) this.#snapshotEstimate.labels(table).set(estimate)
        display.tableStarted(table, estimate, rowsDone)
      },
      rows: (table, n) => (this.#snapshotRows.labels(table).inc(n), display.rows(table, n)),
      tableDone: (table) => display.tableDone(table),
      close: () => display.close(),
    }
  }

  /** A reading of the slot (from the slot monitor). */
  recordSlotSample(sample: SlotSample): void {
    const slot = this.#slot
    const g = this.#slotGauges
    g.walLsn.labels(slot).set(Number(sample.walLsn))
    if (sample.confirmedFlushLsn !== null) g.confirmed.labels(slot).set(Number(sample.confirmedFlushLsn))
    g.lag.labels(slot).set(sample.lagBytes)
    g.retained.labels(slot).set(sample.retainedBytes)
    g.safe.clear()
    if (sample.safeWalSizeBytes !== null) g.safe.labels(slot).set(sample.safeWalSizeBytes)
    if (sample.walStatus !== null) for (const status of WAL_STATUSES) g.status.labels(slot, status).set(sample.walStatus === status ? 1 : 0)
    g.at.labels(slot).set(sample.at / 1000)
  }

  /** Everything in the Prometheus text format. */
  render(): string {
    return this.registry.render()
  }

  #tableRows(table: string): TableRows {
    let rows = this.#rowsByTable.get(table)
    if (!rows) this.#rowsByTable.set(table, (rows = { table, byOperation: {} }))
    return rows
  }

  #rowChild(rows: TableRows, operation: Operation): CounterChild {
    return (rows.byOperation[operation] = this.#rows.labels(rows.table, operation.toLowerCase()))
  }
}
