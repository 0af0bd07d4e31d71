/** @module The inner loop: the replication stream decoded into records, handed to the writer in batches, and what was delivered confirmed. */
import { TransactionAssembler, type ChangeSink } from '../change/assemble.ts'
import type { Change } from '../change/change.ts'
import { ChangeReceiver } from '../change/receive.ts'
import type { SpoolDirectory } from '../change/streamed/spool-directory.ts'
import type { Logger } from '../logger.ts'
import { HEARTBEAT_PREFIX } from '../ops/heartbeat.ts'
import type { Catalog } from '../pg/catalog.ts'
import { formatLsn } from '../pg/lsn.ts'
import type { ReplicationConnection } from '../pg/replication.ts'
import { isXLogData, readKeepalive, XLOG_DATA_HEADER } from '../pg/replication-frames.ts'
import { snapshotTableOf } from '../snapshot/progress-store.ts'
import { Batcher, DEFAULT_BATCH_OPTIONS } from './batcher.ts'
import { Checkpoint } from './checkpoint.ts'
import { formatOf, type PipelineOptions, type PostgresOptions } from './options.ts'
import { ProgressLog } from './progress-log.ts'
import { noteConfirmed, stateTableOf } from './slot.ts'
import { commitClockOf } from './slot-watch.ts'
import type { StreamSnapshots } from './snapshots.ts'
import { explainStreamingFailure } from './streaming.ts'

/** Decodes the replication stream into records, hands them to the writer in batches, confirms what was delivered. */
export async function deliverReplicationStream(
  replication: ReplicationConnection,
  catalog: Catalog,
  spool: SpoolDirectory | undefined,
  options: PipelineOptions,
  logger: Logger,
  snapshots: StreamSnapshots | undefined,
): Promise<void> {
  const metrics = options.metrics
  const counts = metrics?.streamCounters()
  const checkpoint = new Checkpoint(0n, (received, flushed, reply) => (replication.sendStatus(received, flushed, reply), metrics?.statusSent(flushed)))
  const progress = new ProgressLog(logger, { slot: options.postgres.slot }, () => ({ confirmed: checkpoint.flushed, walEnd: checkpoint.received }))
  const clock = commitClockOf(options)
  // Reading stops when the caller aborts, and as soon as a publish fails (not at the next message).
  const reading = new AbortController()
  const stopReading = () => {
    reading.abort()
    replication.interrupt()
  }
  const batcher = new Batcher(
    options.writer,
    { ...DEFAULT_BATCH_OPTIONS, ...options.batch },
    (lsn) => {
      checkpoint.markFlushed(lsn)
      progress.durable(lsn)
      clock.flushed(lsn)
      snapshots?.durable.markFlushed(lsn)
      options.onFlushed?.(lsn)
      metrics?.flushed(lsn)
    },
    stopReading,
    metrics,
  )
  const format = formatOf(options)
  const writer = options.writer
  const delivers = deliveredChanges(options.postgres)
  const windows = snapshots?.windows
  const recordOf = (change: Change) => ({ change, data: format.encode(change), partitionKey: writer.assignChangeToPartitionKey(change) })
  const deliverChunkRow = (row: Change) => (progress.row(), counts?.row(row), batcher.add(recordOf(row)))
  const sink: ChangeSink = {
    change: (change) => {
      if (windows) {
        if (windows.isWatermark(change)) return windows.watermark(change, deliverChunkRow)
        if (windows.active) windows.observe(change)
      }
      if (!delivers(change)) return
      progress.row()
      counts?.row(change)
      clock.change(change.commitTime)
      return batcher.add(recordOf(change))
    },
    commit: (endLsn) => (clock.commit(endLsn), progress.commit(endLsn), counts?.commit(), batcher.commit(endLsn)),
  }
  const receiver = new ChangeReceiver(new TransactionAssembler(catalog, sink), spool, logger, reading.signal)
  const signal = options.signal
  if (signal?.aborted) reading.abort()
  signal?.addEventListener('abort', stopReading)
  checkpoint.startTimer(options.postgres.statusIntervalMs ?? 10_000)
  progress.start((options.progressSeconds ?? 60) * 1000)
  const streamEnded = metrics?.streamStarted({ lagSeconds: (now) => clock.lagSeconds(now), spooledBytes: () => receiver.spooledBytes })
  try {
    await snapshots?.start()
    for await (const messages of replication.messages(reading.signal)) {
      for (const message of messages) {
        // Stop between messages: what follows must not be handled (and confirmed) while an interrupted replay left its transaction open.
        if (reading.signal.aborted) break
        if (isXLogData(message)) {
          const pending = receiver.handle(message, XLOG_DATA_HEADER)
          if (pending) await pending
          continue
        }
        const keepalive = readKeepalive(message)
        // An open streamed transaction counts as in flight: its changes are spooled, not yet delivered.
        if (keepalive) checkpoint.keepalive(keepalive.walEnd, keepalive.replyRequested, !receiver.inFlight && batcher.idle)
      }
      metrics?.serverFrame(messages[messages.length - 1]!)
      if (batcher.failure) throw batcher.failure
    }
    if (batcher.failure) throw batcher.failure
    // Stopped on request: publish what was read, confirm what is complete.
    await batcher.drain()
    checkpoint.report(false)
    await noteConfirmed(catalog, options.postgres, formatLsn(checkpoint.flushed)).catch(() => {})
    logger.info('stopped', { confirmed: formatLsn(checkpoint.flushed) })
  } catch (error) {
    await batcher.abandon()
    throw spool ? explainStreamingFailure(error) : error
  } finally {
    checkpoint.stopTimer()
    progress.stop()
    streamEnded?.()
    signal?.removeEventListener('abort', stopReading)
    await receiver.close()
  }
}

/**
 * Which changes become records: not the tool's own slot records and snapshot progress (a publication
 * FOR ALL TABLES includes their tables), no heartbeats, and logical messages only with an allowed prefix.
 */
function deliveredChanges(pg: PostgresOptions): (change: Change) => boolean {
  const state = stateTableOf(pg)
  const snapshots = snapshotTableOf(state)
  const prefixes = new Set(pg.messagePrefixes ?? [])
  const anyPrefix = prefixes.has('*')
  return (change) => {
    const relation = change.relation
    if (relation) return relation.schema !== state.schema || (relation.name !== state.name && relation.name !== snapshots.name)
    const message = change.message
    // Heartbeats are never records, whatever the prefixes (even "*").
    return message === undefined || (message.prefix !== HEARTBEAT_PREFIX && (anyPrefix || prefixes.has(message.prefix)))
  }
}
