/**
 * @module Asking for snapshots from outside a running instance (the `snapshot` command, or a
 * program): every table is checked before anything is inserted, then all are requested at once.
 */
import type postgres from 'postgres'
import { PgToBrokersError } from '../errors.ts'
import { connectionSettings, openConnection } from '../pg/connect.ts'
import type { ConnectionSettings } from '../pg/conninfo.ts'
import { explainConnectionError } from '../pg/errors.ts'
import { parseQualifiedName, quoteQualifiedName, type QualifiedName } from '../pg/identifiers.ts'
import { DEFAULT_STATE_TABLE } from '../pg/slot-markers.ts'
import { SnapshotProgressStore, snapshotTableText, type SnapshotRequest, type SnapshotTarget } from './progress-store.ts'
import { describeSnapshotTable } from './table.ts'

/** Where the requests go: the database, the slot whose instance reads them, and its slot record table. */
export interface SnapshotRequestTarget {
  /** postgres:// URL or libpq settings. Never logged. */
  readonly url: string
  readonly connectTimeoutMs?: number | undefined
  readonly slot: string
  /** The slot record table (`schema.table`); the snapshot table is created in its schema. Default public.pg_to_brokers_slots. */
  readonly stateTable?: string | undefined
}

export interface SnapshotRequestOptions extends SnapshotRequestTarget {
  /** The publication the slot streams: every table must be published by it. */
  readonly publication: string
  /** Tables as `table` or `schema.table` (quoted parts kept). */
  readonly tables: readonly string[]
  /** A condition on the tables' columns: only matching rows are read. */
  readonly where?: string | undefined
}

/**
 * Requests an incremental snapshot of each table for the slot, all or none: each table must exist,
 * be published, have a primary key and accept the WHERE before any is requested.
 * @throws PgToBrokersError 'snapshot_table_missing', 'snapshot_table_not_published',
 * 'snapshot_no_primary_key', 'snapshot_bad_where', 'snapshot_already_running', or a connection error.
 */
export async function requestSnapshots(options: SnapshotRequestOptions): Promise<SnapshotRequest[]> {
  return await withConnection(options, async (sql) => {
    await checkServerVersion(sql)
    const targets: SnapshotTarget[] = []
    const seen = new Set<string>()
    for (const name of options.tables) {
      const table = await describeSnapshotTable(sql, name, options.publication, options.where)
      if (table.keyColumns.length === 0) throw keyless(table.qualified)
      const text = snapshotTableText(table.qualified)
      // The same table named twice (orders, public.orders) is one snapshot.
      if (seen.has(text)) continue
      seen.add(text)
      targets.push({ table: text, where: table.where ?? null, rowsEstimate: table.estimatedRows })
    }
    return await new SnapshotProgressStore(sql, stateTableOf(options)).request(options.slot, targets, 'incremental')
  })
}

/**
 * Cancels the slot's requested and running snapshots of `tables` (all of them when none are
 * named); resolves with those cancelled. A running instance stops reading them after its current chunk.
 */
export async function cancelSnapshots(options: SnapshotRequestTarget & { readonly tables?: readonly string[] | undefined }): Promise<SnapshotRequest[]> {
  return await withConnection(options, async (sql) => {
    const store = new SnapshotProgressStore(sql, stateTableOf(options))
    const tables = options.tables ?? []
    if (tables.length === 0) return await store.cancel(options.slot)
    const cancelled: SnapshotRequest[] = []
    for (const name of tables) cancelled.push(...(await store.cancel(options.slot, snapshotTableText(parseQualifiedName(name)))))
    return cancelled
  })
}

function stateTableOf(options: SnapshotRequestTarget): QualifiedName {
  return parseQualifiedName(options.stateTable ?? DEFAULT_STATE_TABLE)
}

/** Runs `action` on one connection, closed afterwards; a driver error becomes a PgToBrokersError that names its cause. */
async function withConnection<T>(target: SnapshotRequestTarget, action: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const settings: ConnectionSettings = connectionSettings(target.url)
  const sql = await openConnection(settings, target.connectTimeoutMs ?? 10_000, 'pg_to_brokers_snapshot')
  try {
    return await action(sql)
  } catch (error) {
    throw explainConnectionError(error, settings, sql.options.user)
  } finally {
    await sql.end({ timeout: 5 }).catch(() => {})
  }
}

function keyless(table: QualifiedName): PgToBrokersError {
  const name = quoteQualifiedName(table)
  return new PgToBrokersError(
    'snapshot_no_primary_key',
    `cannot snapshot ${name} in chunks: it has no primary key to page by. ` +
      `Add one (ALTER TABLE ${name} ADD PRIMARY KEY (...)), or let the initial snapshot read it whole (snapshot.mode "initial")`,
  )
}

/** Incremental snapshots are read between watermarks, which are logical messages: pgoutput sends them from PostgreSQL 14 on. */
async function checkServerVersion(sql: postgres.Sql): Promise<void> {
  const [row] = await sql<{ server_version_num: string }[]>`show server_version_num`
  if (Number(row?.server_version_num) >= 140000) return
  throw new PgToBrokersError(
    'snapshot_unsupported',
    `incremental snapshots need PostgreSQL 14 or later (server_version_num ${row?.server_version_num}): their watermarks are logical messages, ` +
      'which pgoutput sends from 14 on. On this server, copy the tables with --snapshot-mode initial on a new slot',
  )
}
