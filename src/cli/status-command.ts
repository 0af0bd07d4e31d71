/** @module `pg-to-brokers status`: the slot, its WAL, its lag and its publication in one table (or one JSON object), and an exit code for scripts. */
import type { Config } from '../config/load.ts'
import { readSlotState, slotProblems, type SlotState } from '../ops/slot-state.ts'
import { Catalog } from '../pg/catalog.ts'
import { connectionSettings, openConnection } from '../pg/connect.ts'
import { explainConnectionError } from '../pg/errors.ts'
import { writeStdout } from '../runtime/io.ts'
import { stateTableOf } from '../pipeline/slot.ts'
import { SnapshotProgressStore, type SnapshotRequest } from '../snapshot/progress-store.ts'

/** The status as `--json` prints it: the state, what is wrong with it, and whether that is nothing. */
export interface StatusReport extends SlotState {
  readonly ok: boolean
  readonly problems: readonly string[]
}

/**
 * Reads the configured slot's state with the same connection settings as `run`, prints it, and
 * resolves true when the slot exists, is not lost and no problem was found.
 * @throws PgToBrokersError when the server cannot be reached or read.
 */
export async function statusCommand(config: Config, json: boolean): Promise<boolean> {
  const report = await readStatus(config)
  await writeStdout(json ? `${JSON.stringify(statusJson(report))}\n` : formatStatus(report))
  return report.ok
}

/** Reads the slot's state and judges it. */
export async function readStatus(config: Config): Promise<StatusReport> {
  const pg = config.postgres
  const settings = connectionSettings(pg.url)
  const sql = await openConnection(settings, pg.connectTimeoutMs, 'pg_to_brokers_status')
  try {
    const catalog = Catalog.over(sql)
    const stateTable = stateTableOf(pg)
    const state = await readSlotState({
      slot: pg.slot,
      publication: pg.publication,
      catalog,
      lastConfirmedAt: async () => (await catalog.slotMarkers(stateTable).read(pg.slot))?.confirmedAt ?? null,
      snapshots: () => new SnapshotProgressStore(sql, stateTable).pending(pg.slot),
    })
    const problems = slotProblems(state, await catalog.currentDatabase(), config.lag.warnBytes)
    return { ...state, ok: problems.length === 0, problems }
  } catch (error) {
    throw explainConnectionError(error, settings, sql.options.user)
  } finally {
    await sql.end({ timeout: 5 }).catch(() => {})
  }
}

/** The `--json` object: positions as "X/Y" text, sizes in bytes, null where the server has no value (wal_status before PostgreSQL 13). */
export function statusJson(report: StatusReport): Record<string, unknown> {
  const { sample, slot, exists, ok, problems, ...rest } = report
  // The verdict first, for a person reading the object.
  return {
    slot,
    exists,
    ok,
    problems,
    ...rest,
    walStatus: sample?.walStatus ?? null,
    safeWalSizeBytes: sample?.safeWalSizeBytes ?? null,
    retainedBytes: sample?.retainedBytes ?? null,
    lagBytes: sample?.lagBytes ?? null,
  }
}

/** The human-readable table: one item per line, a name column and a value column. */
export function formatStatus(report: StatusReport): string {
  const sample = report.sample
  const modern = report.serverVersion >= 130000
  const rows: [string, string][] = [
    ['slot', report.slot],
    ['exists', report.exists ? 'yes' : 'no'],
  ]
  if (report.exists && sample) {
    rows.push(
      ['plugin / database', `${report.plugin ?? report.slotType ?? '?'} / ${report.database ?? '?'}`],
      ['active', report.client ? describeClient(report.client) : 'no (no process is streaming from it)'],
      ['wal_status', modern ? (sample.walStatus ?? 'n/a') : 'n/a (PostgreSQL < 13)'],
      ['safe_wal_size', modern ? safeWalSize(sample.safeWalSizeBytes, sample.walStatus) : 'n/a (PostgreSQL < 13)'],
      ['retained WAL', `${bytes(sample.retainedBytes)} (restart_lsn ${report.restartLsn ?? 'none'})`],
      ['confirmed_flush_lsn', report.confirmedFlushLsn ?? 'none'],
      ['lag', `${bytes(sample.lagBytes)} behind the server's WAL at ${report.walLsn ?? '?'}`],
      ['last confirmed by a run', report.lastConfirmedAt ?? 'never recorded'],
    )
  }
  rows.push(
    ['max_slot_wal_keep_size', keepSize(report.maxSlotWalKeepSizeBytes)],
    ['publication', publication(report)],
    ['no replica identity', report.tablesWithoutReplicaIdentity.length === 0 ? 'none' : report.tablesWithoutReplicaIdentity.join(', ')],
    ['snapshots in progress', report.snapshots.length === 0 ? 'none' : report.snapshots.map(describeSnapshot).join('; ')],
    ['status', report.ok ? 'OK' : `PROBLEM: ${report.problems.join('; ')}`],
  )
  const width = Math.max(...rows.map(([name]) => name.length)) + 2
  return rows.map(([name, value]) => `${name.padEnd(width)}${value}\n`).join('')
}

function describeClient(client: NonNullable<SlotState['client']>): string {
  const from = client.address === null ? 'a local socket' : client.address
  const application = client.applicationName ? `, application_name ${client.applicationName}` : ''
  return `yes: PID ${client.pid} from ${from}${application}`
}

function safeWalSize(size: number | null, walStatus: string | null): string {
  if (walStatus === 'lost') return 'none: the slot is lost'
  return size === null ? 'unlimited (max_slot_wal_keep_size = -1)' : `${bytes(size)} more before the slot is invalidated`
}

function keepSize(size: number | null): string {
  if (size === null) return 'n/a (PostgreSQL < 13: unlimited)'
  return size === -1 ? 'unlimited (-1): a stalled slot can fill the disk' : bytes(size)
}

function publication(report: StatusReport): string {
  if (!report.publicationExists) return `${report.publication}: does not exist`
  const tables = report.publishedTables
  return `${report.publication}: ${tables.length} table${tables.length === 1 ? '' : 's'}${tables.length === 0 ? '' : ` (${tables.join(', ')})`}`
}

function describeSnapshot(request: SnapshotRequest): string {
  const estimate = request.rowsEstimate === null ? '' : ` of ~${request.rowsEstimate}`
  return `${request.table} (${request.kind}, ${request.status}, ${request.rowsDone}${estimate} rows, id ${request.id})`
}

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'] as const

/** Exact bytes, and a rounded binary unit beside them from 1 KiB up. */
function bytes(count: number): string {
  let value = count
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) (value /= 1024), unit++
  return unit === 0 ? `${count} bytes` : `${count} bytes (${value.toFixed(1)} ${UNITS[unit]})`
}
