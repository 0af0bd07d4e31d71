/**
 * @module The pipeline, top to bottom: replication stream → pgoutput receiver (in-progress
 * transactions the server streams are spooled to disk until they commit) → change model →
 * batcher → writer → checkpoint (LSN confirmed only after delivery).
 */
import { SpoolDirectory } from '../change/streamed/spool-directory.ts'
import { silentLogger, type Logger } from '../logger.ts'
import { Heartbeat } from '../ops/heartbeat.ts'
import type { SlotMonitor } from '../ops/slot-monitor.ts'
import { Catalog } from '../pg/catalog.ts'
import { checkServerSupports, ReplicationConnection } from '../pg/replication.ts'
import { temporaryDirectory } from '../runtime/io.ts'
import { DEFAULT_BATCH_OPTIONS } from './batcher.ts'
import { deliverReplicationStream } from './deliver.ts'
import { formatOf, type PipelineOptions, type PostgresOptions } from './options.ts'
import { preparePublication, prepareSource } from './prepare.ts'
import { forgetSlot } from './slot.ts'
import { lostOr, startSlotMonitor } from './slot-watch.ts'
import {
  copyTablesOnce,
  exportingSlotCreation,
  refuseUnfinishedSnapshots,
  runInitialPhase,
  snapshotOptionsOf,
  StreamSnapshots,
  type ExportedSlot,
  type SnapshotContext,
} from './snapshots.ts'
import { waitForSlotLease } from './standby.ts'
import { isStreamedDecodingFailure, useStreaming } from './streaming.ts'

export type { PipelineOptions, PostgresOptions, StreamingMode } from './options.ts'

/**
 * Streams until `signal` aborts (then resolves after a clean stop) or something fails (then
 * rejects with a PgToBrokersError; nothing undelivered was confirmed). With `streaming` 'auto',
 * a server failure while decoding a streamed in-progress transaction is not final: the stream
 * starts again from the slot without streaming (the server then sends transactions at commit).
 */
export async function runPipeline(options: PipelineOptions): Promise<void> {
  const pg = options.postgres
  const logger = options.logger ?? silentLogger
  const catalog = await Catalog.open(pg.url, pg.connectTimeoutMs ?? 10_000)
  let cleanStop = false
  let monitor: SlotMonitor | undefined
  try {
    const { serverVersion } = await catalog.checkServer()
    const mode = pg.streaming ?? 'auto'
    let streaming = useStreaming(mode, serverVersion)
    // Before a slot may be created: a server without logical messages must not be left a new slot retaining WAL.
    checkServerSupports({ protoVersion: 1, streaming: false, messages: (pg.messagePrefixes ?? []).length > 0 }, serverVersion)
    // A standby waits here (before the slot may be created) until it holds the slot's lease and the slot is free.
    const standby = { slot: pg.slot, url: pg.url, logger, signal: options.signal, onWaiting: options.onStandbyWaiting }
    if (pg.standby && !(await waitForSlotLease(catalog, standby))) return
    // The writer starts only once this process may write (a standby's init must not touch what the
    // active process is writing), and before the slot: a missing Kinesis stream or Kafka topic must not leave a new slot retaining WAL.
    await options.writer.init()
    const snapshot = snapshotContextOf(options, logger)
    if (snapshot.snapshot.mode === 'initial_only') {
      await preparePublication(catalog, pg, logger)
      options.metrics?.state('starting', 'reading the initial snapshot')
      await copyTablesOnce(snapshot)
      cleanStop = true
      return
    }
    const holder: { exported?: ExportedSlot } = {}
    await prepareSource(catalog, pg, { reconnect: options.resume === true }, logger, exportingSlotCreation(snapshot, holder))
    if (holder.exported) {
      try {
        options.metrics?.state('starting', 'reading the initial snapshot')
        await runInitialPhase(snapshot, holder.exported)
      } finally {
        await holder.exported.connection.close()
      }
    }
    // Incremental snapshots need watermarks, which are logical messages: PostgreSQL 14 and later.
    const snapshots = serverVersion >= 140000 ? snapshot : await refuseUnfinishedSnapshots(snapshot)
    monitor = await startSlotMonitor(catalog, options, logger)
    for (;;) {
      try {
        await replicate(catalog, options, logger, streaming, snapshots)
        break
      } catch (error) {
        // The server ends the stream of a slot it invalidates: say so rather than reconnect to a lost slot.
        if (mode !== 'auto' || !isStreamedDecodingFailure(error) || options.signal?.aborted) throw await lostOr(monitor, error)
        // The same WAL decodes without streaming; a server fault must not stop a pipeline that did not insist on streaming.
        logger.warn('PostgreSQL failed to decode a streamed in-progress transaction; continuing without streaming', { reason: (error as Error).message })
        streaming = false
        await waitForSlotRelease(catalog, pg.slot)
      }
    }
    cleanStop = true
  } finally {
    await monitor?.stop()
    await options.writer.close().catch((error) => logger.warn('writer close failed', { error: String(error) }))
    if (cleanStop && pg.dropSlotOnExit) await dropSlot(catalog, pg, logger)
    await catalog.close()
  }
}

/** One replication connection, from START_REPLICATION until a stop or a failure; closes it and removes its spool. */
async function replicate(catalog: Catalog, options: PipelineOptions, logger: Logger, streaming: boolean, snapshot: SnapshotContext | undefined): Promise<void> {
  const pg = options.postgres
  let replication: ReplicationConnection | undefined
  let spool: SpoolDirectory | undefined
  let heartbeat: Heartbeat | undefined
  const snapshots = snapshot ? new StreamSnapshots(snapshot) : undefined
  try {
    if (streaming) spool = await SpoolDirectory.open(pg.spoolDirectory ?? temporaryDirectory(), logger)
    replication = await ReplicationConnection.open(pg.url, pg.connectTimeoutMs ?? 10_000)
    const messages = snapshots !== undefined || (pg.messagePrefixes ?? []).length > 0
    await replication.start({ slot: pg.slot, publication: pg.publication, startLsn: 0n, protoVersion: streaming ? 2 : 1, streaming, messages })
    logger.info('streaming', { slot: pg.slot, publication: pg.publication, inProgressTransactions: streaming ? 'streamed' : 'sent at commit' })
    options.onStreaming?.()
    const intervalMs = (pg.heartbeatSeconds ?? 0) * 1000
    if (intervalMs > 0) heartbeat = await Heartbeat.start({ url: pg.url, intervalMs, connectTimeoutMs: pg.connectTimeoutMs ?? 10_000, logger })
    await deliverReplicationStream(replication, catalog, spool, options, logger, snapshots)
  } finally {
    await heartbeat?.stop()
    await snapshots?.stop(new Error('the replication stream stopped'))
    await replication?.close()
    await spool?.remove()
  }
}

function snapshotContextOf(options: PipelineOptions, logger: Logger): SnapshotContext {
  const pg = options.postgres
  return {
    url: pg.url,
    connectTimeoutMs: pg.connectTimeoutMs ?? 10_000,
    slotOptions: pg,
    publication: pg.publication,
    tables: pg.tables,
    snapshot: snapshotOptionsOf(options.snapshot),
    writer: options.writer,
    format: formatOf(options),
    batch: { ...DEFAULT_BATCH_OPTIONS, ...options.batch },
    logger,
    signal: options.signal,
    metrics: options.metrics,
  }
}

/** The walsender may need a moment to release the slot after its connection ended (on error, too). */
async function waitForSlotRelease(catalog: Catalog, slot: string): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    if ((await catalog.slot(slot))?.activePid == null) return
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** The walsender may need a moment to release the slot after the connection closes. */
async function dropSlot(catalog: Catalog, pg: PostgresOptions, logger: Logger): Promise<void> {
  const slot = pg.slot
  for (let attempt = 0; attempt < 20; attempt++) {
    const info = await catalog.slot(slot)
    if (!info) return
    if (info.activePid === null) {
      await catalog.dropSlot(slot)
      await forgetSlot(catalog, pg)
      logger.info('dropped replication slot', { slot })
      return
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  logger.warn('could not drop the replication slot: it stayed active', { slot })
}
