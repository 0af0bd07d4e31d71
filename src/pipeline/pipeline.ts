/**
 * @module The pipeline, top to bottom: replication stream → pgoutput decoder → change model →
 * batcher → writer → checkpoint (LSN confirmed only after delivery).
 */
import { TransactionAssembler, type ChangeSink } from '../change/assemble.ts'
import type { RecordFormat } from '../change/formats/format.ts'
import { SeedFormat } from '../change/formats/seed.ts'
import { Catalog } from '../pg/catalog.ts'
import { formatLsn, type Lsn } from '../pg/lsn.ts'
import { PgoutputDecoder } from '../pg/pgoutput/decode.ts'
import { ReplicationConnection } from '../pg/replication.ts'
import type { StreamWriter } from '../writers/writer.ts'
import { Batcher, DEFAULT_BATCH_OPTIONS, type BatchOptions } from './batcher.ts'
import { Checkpoint } from './checkpoint.ts'
import { silentLogger, type Logger } from './logger.ts'
import { prepareSource, type SourceOptions } from './prepare.ts'

export interface PostgresOptions extends SourceOptions {
  /** postgres:// URL. Never logged. */
  readonly url: string
  /** Drop the slot after a clean stop (the original project's `destroy_slot_after_stopping`). */
  readonly dropSlotOnExit?: boolean
  readonly statusIntervalMs?: number
  readonly connectTimeoutMs?: number
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
}

const XLOG_DATA = 0x77 // 'w'
const PRIMARY_KEEPALIVE = 0x6b // 'k'
const XLOG_DATA_HEADER = 25

/**
 * Streams until `signal` aborts (then resolves after a clean stop) or something fails (then
 * rejects with a PgToBrokersError; nothing undelivered was confirmed).
 */
export async function runPipeline(options: PipelineOptions): Promise<void> {
  const pg = options.postgres
  const logger = options.logger ?? silentLogger
  const connectTimeoutMs = pg.connectTimeoutMs ?? 10_000
  const catalog = await Catalog.open(pg.url, connectTimeoutMs)
  let replication: ReplicationConnection | undefined
  let cleanStop = false
  try {
    await catalog.checkServer()
    await prepareSource(catalog, pg, logger)
    await options.writer.init()
    replication = await ReplicationConnection.open(pg.url, connectTimeoutMs)
    await replication.start({ slot: pg.slot, publication: pg.publication, startLsn: 0n, protoVersion: 1, streaming: false, messages: true })
    logger.info('streaming', { slot: pg.slot, publication: pg.publication })
    options.onStreaming?.()
    await stream(replication, catalog, options, logger)
    cleanStop = true
  } finally {
    await replication?.close()
    await options.writer.close().catch((error) => logger.warn('writer close failed', { error: String(error) }))
    if (cleanStop && pg.dropSlotOnExit) await dropSlot(catalog, pg.slot, logger)
    await catalog.close()
  }
}

async function stream(replication: ReplicationConnection, catalog: Catalog, options: PipelineOptions, logger: Logger): Promise<void> {
  const checkpoint = new Checkpoint(0n, (received, flushed, reply) => replication.sendStatus(received, flushed, reply))
  // Reading stops when the caller aborts, and as soon as a publish fails (not at the next message).
  const reading = new AbortController()
  const stopReading = () => {
    reading.abort()
    replication.interrupt()
  }
  const batcher = new Batcher(options.writer, { ...DEFAULT_BATCH_OPTIONS, ...options.batch }, (lsn) => {
    checkpoint.markFlushed(lsn)
    options.onFlushed?.(lsn)
  }, stopReading)
  const format = options.format ?? new SeedFormat()
  const writer = options.writer
  const sink: ChangeSink = {
    change: (change) => batcher.add({ change, data: format.encode(change), partitionKey: writer.assignChangeToPartitionKey(change) }),
    commit: (endLsn) => batcher.commit(endLsn),
  }
  const assembler = new TransactionAssembler(catalog, sink)
  const decoder = new PgoutputDecoder()
  const signal = options.signal
  if (signal?.aborted) reading.abort()
  signal?.addEventListener('abort', stopReading)
  checkpoint.startTimer(options.postgres.statusIntervalMs ?? 10_000)
  try {
    for await (const messages of replication.messages(reading.signal)) {
      for (const message of messages) {
        if (message[0] === XLOG_DATA) {
          const pending = assembler.handle(decoder.decode(message.subarray(XLOG_DATA_HEADER)))
          if (pending) await pending
        } else if (message[0] === PRIMARY_KEEPALIVE) {
          const view = new DataView(message.buffer, message.byteOffset, message.byteLength)
          checkpoint.keepalive(view.getBigUint64(1), message[17] === 1, !assembler.inTransaction && batcher.idle)
        }
      }
      if (batcher.failure) throw batcher.failure
    }
    if (batcher.failure) throw batcher.failure
    // Stopped on request: publish what was read, confirm what is complete.
    await batcher.drain()
    checkpoint.report(false)
    logger.info('stopped', { confirmed: formatLsn(checkpoint.flushed) })
  } catch (error) {
    await batcher.abandon()
    throw error
  } finally {
    checkpoint.stopTimer()
    signal?.removeEventListener('abort', stopReading)
  }
}

/** The walsender may need a moment to release the slot after the connection closes. */
async function dropSlot(catalog: Catalog, slot: string, logger: Logger): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const info = await catalog.slot(slot)
    if (!info) return
    if (info.activePid === null) {
      await catalog.dropSlot(slot)
      logger.info('dropped replication slot', { slot })
      return
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  logger.warn('could not drop the replication slot: it stayed active', { slot })
}
