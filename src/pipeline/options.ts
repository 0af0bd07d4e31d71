/** @module What a pipeline is told: the source (PostgreSQL, slot, publication), the writer, and the hooks; and the record format they choose. */
import type { RecordFormat } from '../change/formats/format.ts'
import { SeedFormat } from '../change/formats/seed.ts'
import type { Logger } from '../logger.ts'
import type { PipelineMetrics } from '../ops/pipeline-metrics.ts'
import type { LagAlarmOptions } from '../ops/slot-monitor.ts'
import type { SlotSample } from '../ops/slot-sample.ts'
import type { Lsn } from '../pg/lsn.ts'
import type { SnapshotOptions } from '../snapshot/options.ts'
import type { StreamWriter } from '../writers/writer.ts'
import type { BatchOptions } from './batcher.ts'
import type { SourceOptions } from './prepare.ts'
import type { StreamingMode } from './streaming.ts'

export type { StreamingMode }

export interface PostgresOptions extends SourceOptions {
  /** postgres:// URL. Never logged. */
  readonly url: string
  /** Drop the slot after a clean stop (the original project's `destroy_slot_after_stopping`). */
  readonly dropSlotOnExit?: boolean
  readonly statusIntervalMs?: number
  readonly connectTimeoutMs?: number
  /**
   * Streaming of in-progress transactions (protocol 2): 'auto' (the default) uses it when the
   * server has it (PostgreSQL 14 and later), 'on' requires it, 'off' never uses it (then the
   * server keeps a large transaction on its own disk until it commits, and sends it then).
   * Streamed transactions are spooled to disk until they commit, and delivered whole then.
   */
  readonly streaming?: StreamingMode
  /** Parent of the directory holding spool files of streamed transactions; default: the OS temp directory. */
  readonly spoolDirectory?: string | undefined
  /**
   * Prefixes of logical messages (`pg_logical_emit_message`) to deliver as records; `*` takes every
   * prefix. Empty (the default): none are asked for, since any role that may call the function could
   * otherwise inject records into the output. Needs PostgreSQL ≥ 14.
   */
  readonly messagePrefixes?: readonly string[] | undefined
  /**
   * Seconds between heartbeats while streaming: a transactional logical message (prefix
   * `pg_to_brokers.heartbeat`, never a record) emitted in this database, so the slot can advance
   * while its tables are idle and other databases keep the WAL moving. 0 or absent: none.
   */
  readonly heartbeatSeconds?: number | undefined
}

export interface PipelineOptions {
  readonly postgres: PostgresOptions
  readonly writer: StreamWriter
  readonly format?: RecordFormat
  readonly batch?: Partial<BatchOptions>
  readonly logger?: Logger
  /** Aborting stops reading, publishes what was read, confirms it, and resolves. */
  readonly signal?: AbortSignal
  /** Called after each confirmation with the LSN the slot may now advance to (for tests and metrics). */
  readonly onFlushed?: (lsn: Lsn) => void
  /** Called once the replication stream has started. */
  readonly onStreaming?: () => void
  /** Called when a standby starts waiting for the slot (it has connected and checked everything by then). */
  readonly onStandbyWaiting?: () => void
  /** The slot must already exist (runSupervised sets this on reconnects): a missing slot is lost, never recreated. */
  readonly resume?: boolean
  /** Snapshots: the initial one's mode, chunk size, parallel tables, progress display; default: no initial snapshot. */
  readonly snapshot?: SnapshotOptions
  /** Seconds between progress lines (info) while streaming, written even when idle; 0 turns them off; default 60. */
  readonly progressSeconds?: number | undefined
  /** Lag warning thresholds and how often the slot is read while streaming; default DEFAULT_LAG_ALARMS. */
  readonly lagAlarms?: Partial<LagAlarmOptions> | undefined
  /** Called with each reading of the slot while streaming (every lagAlarms.pollSeconds). */
  readonly onSlotSample?: ((sample: SlotSample) => void) | undefined
  /** Prometheus metrics and readiness: fed per batch, per transaction, per read and one increment per row. */
  readonly metrics?: PipelineMetrics | undefined
}

/** One format instance per pipeline: the initial snapshot and the stream share its caches. */
const formats = new WeakMap<PipelineOptions, RecordFormat>()
export function formatOf(options: PipelineOptions): RecordFormat {
  let format = formats.get(options)
  if (!format) formats.set(options, (format = options.format ?? new SeedFormat()))
  return format
}
