/** @module What the server says of a slot: the cheap sample the monitor polls, and the full state the status command prints. */
import type { Catalog } from '../pg/catalog.ts'
import { parseLsn } from '../pg/lsn.ts'
import type { RunQuery } from '../pg/slot-markers.ts'
import type { SnapshotRequest } from '../snapshot/progress-store.ts'
import type { SlotSample } from './slot-sample.ts'

/** The process streaming from a slot, as pg_stat_activity shows it. */
export interface SlotClient {
  readonly pid: number
  /** The client's address; null over a unix socket. */
  readonly address: string | null
  readonly applicationName: string | null
}

/** One reading of the slot, with what the sample leaves out. */
export interface SlotReading {
  /** Undefined when the slot does not exist. */
  readonly sample: SlotSample | undefined
  readonly plugin: string | null
  readonly slotType: string | null
  readonly database: string | null
  readonly restartLsn: string | null
  readonly confirmedFlushLsn: string | null
  readonly walLsn: string | null
  /** Null while the slot is not in use. */
  readonly client: SlotClient | null
}

/** Everything `status` shows of a slot. Positions are "X/Y" text, sizes bytes; null where the server has no such value. */
export interface SlotState extends SlotReading {
  readonly slot: string
  readonly exists: boolean
  readonly serverVersion: number
  /** max_slot_wal_keep_size in bytes: -1 is unlimited; null before PostgreSQL 13. */
  readonly maxSlotWalKeepSizeBytes: number | null
  readonly publication: string
  readonly publicationExists: boolean
  /** The tables the publication publishes, as schema.table. */
  readonly publishedTables: readonly string[]
  /** Published tables whose UPDATE and DELETE PostgreSQL refuses: no primary key nor replica identity. */
  readonly tablesWithoutReplicaIdentity: readonly string[]
  /** Requested and running snapshots of the slot. */
  readonly snapshots: readonly SnapshotRequest[]
  /** When a run last noted the slot's confirmed position (its start or clean stop); null without a record. */
  readonly lastConfirmedAt: string | null
}

/** What `readSlotState` needs besides the catalog: the slot, its publication, its records and snapshots. */
export interface SlotStateSources {
  readonly slot: string
  readonly publication: string
  readonly catalog: Catalog
  readonly lastConfirmedAt: () => Promise<string | null>
  readonly snapshots: () => Promise<SnapshotRequest[]>
}

interface SlotRow {
  plugin: string | null
  slot_type: string
  database: string | null
  active_pid: number | null
  restart_lsn: string | null
  confirmed_flush_lsn: string | null
  wal_status?: string | null
  safe_wal_size?: number | null
}

interface ReadingRow {
  wal_lsn: string | null
  slot: SlotRow | null
  client: { address: string | null; application_name: string | null } | null
}

const MEGABYTE = 1024 * 1024

/**
 * Reads the slot in one statement: to_jsonb keeps it valid on every version (wal_status and
 * safe_wal_size exist from PostgreSQL 13). On a server in recovery the WAL end is the last replayed position.
 */
export async function readSlot(query: RunQuery, slot: string): Promise<SlotReading> {
  const [row] = await query<ReadingRow>(
    `select w.wal_lsn, to_jsonb(s) as slot,
       (select jsonb_build_object('address', host(a.client_addr), 'application_name', a.application_name)
        from pg_stat_activity a where a.pid = s.active_pid) as client
     from (select (case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end)::text as wal_lsn) w
     left join pg_replication_slots s on s.slot_name = $1`,
    [slot],
  )
  const s = row?.slot ?? null
  const walLsn = row?.wal_lsn ?? null
  const client =
    s?.active_pid == null ? null : { pid: s.active_pid, address: row?.client?.address ?? null, applicationName: row?.client?.application_name ?? null }
  return {
    sample: s ? sampleOf(s, walLsn) : undefined,
    plugin: s?.plugin ?? null,
    slotType: s?.slot_type ?? null,
    database: s?.database ?? null,
    restartLsn: s?.restart_lsn ?? null,
    confirmedFlushLsn: s?.confirmed_flush_lsn ?? null,
    walLsn,
    client,
  }
}

/** The slot's sample; undefined when the slot does not exist. */
export async function readSlotSample(query: RunQuery, slot: string): Promise<SlotSample | undefined> {
  return (await readSlot(query, slot)).sample
}

/** max_slot_wal_keep_size in bytes (-1: unlimited); null before PostgreSQL 13, which has no such limit. */
export async function maxSlotWalKeepSize(query: RunQuery): Promise<number | null> {
  const [row] = await query<{ setting: string | null }>(`select setting from pg_settings where name = 'max_slot_wal_keep_size'`, [])
  if (row?.setting == null) return null
  const megabytes = Number(row.setting)
  return megabytes < 0 ? -1 : megabytes * MEGABYTE
}

/** Reads everything the status command shows. @throws what the catalog connection throws. */
export async function readSlotState(sources: SlotStateSources): Promise<SlotState> {
  const { catalog, slot, publication } = sources
  const query: RunQuery = (text, parameters) => catalog.query(text, parameters)
  const [version] = await query<{ version: string }>(`select current_setting('server_version_num') as version`, [])
  const reading = await readSlot(query, slot)
  const publicationExists = await catalog.publicationExists(publication)
  return {
    ...reading,
    slot,
    exists: reading.sample !== undefined,
    serverVersion: Number(version?.version),
    maxSlotWalKeepSizeBytes: await maxSlotWalKeepSize(query),
    publication,
    publicationExists,
    publishedTables: publicationExists ? await publishedTables(query, publication) : [],
    tablesWithoutReplicaIdentity: publicationExists ? await catalog.tablesWithoutReplicaIdentity(publication) : [],
    snapshots: await sources.snapshots(),
    lastConfirmedAt: await sources.lastConfirmedAt(),
  }
}

/**
 * What is wrong with the slot, one sentence each (empty when it is fine): missing, lost, not a
 * pgoutput slot of this database, about to be lost, retaining more WAL than `lagWarnBytes`, or a publication
 * that is missing or publishes tables whose updates PostgreSQL refuses.
 */
export function slotProblems(state: SlotState, database: string, lagWarnBytes: number): string[] {
  const problems: string[] = []
  if (!state.exists) problems.push(`replication slot "${state.slot}" does not exist`)
  else {
    if (state.plugin !== 'pgoutput') problems.push(`the slot uses the output plugin "${state.plugin ?? state.slotType}", not pgoutput`)
    if (state.database !== database) problems.push(`the slot belongs to database "${state.database}", not "${database}"`)
    const status = state.sample?.walStatus
    if (status === 'lost') problems.push('the slot was invalidated (wal_status = lost): re-snapshot with --snapshot-mode when_needed')
    if (status === 'unreserved') problems.push('the slot is about to be invalidated (wal_status = unreserved): its WAL is past max_slot_wal_keep_size')
    const retained = state.sample?.retainedBytes ?? 0
    if (status !== 'lost' && retained > lagWarnBytes)
      problems.push(`the slot holds ${retained} bytes of WAL on the server, above lag.warnBytes (${lagWarnBytes})`)
  }
  if (!state.publicationExists) problems.push(`publication "${state.publication}" does not exist`)
  if (state.tablesWithoutReplicaIdentity.length > 0) {
    problems.push(`published tables without a primary key or replica identity (UPDATE and DELETE fail): ${state.tablesWithoutReplicaIdentity.join(', ')}`)
  }
  return problems
}

function sampleOf(s: SlotRow, walLsnText: string | null): SlotSample {
  const walLsn = walLsnText === null ? 0n : parseLsn(walLsnText)
  const confirmed = s.confirmed_flush_lsn === null ? null : parseLsn(s.confirmed_flush_lsn)
  const behind = (lsn: bigint | null) => (lsn === null || walLsnText === null || lsn > walLsn ? 0 : Number(walLsn - lsn))
  return {
    at: Date.now(),
    walLsn,
    confirmedFlushLsn: confirmed,
    retainedBytes: behind(s.restart_lsn === null ? null : parseLsn(s.restart_lsn)),
    lagBytes: behind(confirmed),
    walStatus: s.wal_status ?? null,
    safeWalSizeBytes: s.safe_wal_size ?? null,
  }
}

async function publishedTables(query: RunQuery, publication: string): Promise<string[]> {
  const rows = await query<{ name: string }>(`select schemaname || '.' || tablename as name from pg_publication_tables where pubname = $1 order by 1`, [
    publication,
  ])
  return rows.map((row) => row.name)
}
