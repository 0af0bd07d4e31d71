/** @module An ordinary (non-replication) connection for catalog look-ups: server checks, slot, publication, types, keys. */
import type postgres from 'postgres'
import { connectionSettings, openConnection } from './connect.ts'
import { PgToBrokersError } from '../errors.ts'
import { explainConnectionError, missingReplicationRole, type ConnectionTarget } from './errors.ts'
import { parseQualifiedName, quoteIdent, quoteQualifiedName, type QualifiedName } from './identifiers.ts'
import type { PgType } from '../pg/values/types.ts'
import { SlotMarkers } from './slot-markers.ts'

export interface SlotInfo {
  readonly plugin: string | null
  readonly slotType: string
  readonly database: string | null
  readonly activePid: number | null
  readonly confirmedFlushLsn: string | null
  /** Decodes prepared transactions at PREPARE (PostgreSQL ≥ 14); false where the server has no such slots. */
  readonly twoPhase: boolean
  /** 'lost' once the server removed WAL the slot still needed (PostgreSQL ≥ 13); null where unknown. */
  readonly walStatus: string | null
}

interface SlotRow {
  plugin: string | null
  slot_type: string
  database: string | null
  active_pid: number | null
  confirmed_flush_lsn: string | null
  two_phase?: boolean
  wal_status?: string | null
}

interface TypeRow {
  oid: number
  name: string
  typtype: string
  typbasetype: number
  typelem: number
  typdelim: string
  typcategory: string
  /** The output function: 'array_out' for true arrays; int2vector and oidvector have their own. */
  typoutput: string
}

const TEXT_OID = 25

export class Catalog {
  readonly #sql: postgres.Sql
  readonly #types = new Map<number, PgType>()
  /** Slots whose advisory lock this session holds (session locks stack, so each is taken once). */
  readonly #leases = new Set<string>()
  readonly #settings: ConnectionTarget
  readonly user: string

  private constructor(sql: postgres.Sql, settings: ConnectionTarget) {
    this.#sql = sql
    this.#settings = settings
    this.user = sql.options.user
  }

  /** @throws PgToBrokersError when the server cannot be reached or refuses the login. */
  static async open(url: string, connectTimeoutMs: number): Promise<Catalog> {
    const settings = connectionSettings(url)
    const sql = await openConnection(settings, connectTimeoutMs, 'pg_to_brokers_catalog')
    try {
      await sql`select 1`
    } catch (error) {
      await sql.end({ timeout: 0 }).catch(() => {})
      throw explainConnectionError(error, settings, sql.options.user)
    }
    return new Catalog(sql, settings)
  }

  /**
   * A catalog over a connection the caller opened and ends (not with `close()`): a snapshot reads
   * types and keys through it as the stream does, so their records agree.
   * @internal Left out of the package's declarations, which must not need the driver's types.
   */
  static over(sql: postgres.Sql): Catalog {
    const { host, port, database } = sql.options
    return new Catalog(sql, `postgres://${host[0] ?? 'localhost'}:${port[0] ?? 5432}/${database}`)
  }

  /** Checks what logical replication needs of the server and the role, with a specific error for each gap. */
  async checkServer(): Promise<{ serverVersion: number }> {
    const [row] = await this.#sql<{ wal_level: string; version: string; rolreplication: boolean; rolsuper: boolean }[]>`
      select current_setting('wal_level') as wal_level, current_setting('server_version_num') as version,
             r.rolreplication, r.rolsuper
      from pg_roles r where r.rolname = current_user`
    if (!row) throw new PgToBrokersError('pg_error', 'cannot read the current role from pg_roles')
    if (row.wal_level !== 'logical') {
      throw new PgToBrokersError(
        'wal_level_not_logical',
        `PostgreSQL has wal_level=${row.wal_level}, but logical decoding needs wal_level=logical: run ALTER SYSTEM SET wal_level = logical and ` +
          `restart the server`,
      )
    }
    if (!row.rolreplication && !row.rolsuper) throw missingReplicationRole(this.user)
    return { serverVersion: Number(row.version) }
  }

  async slot(name: string): Promise<SlotInfo | undefined> {
    // to_jsonb reads the columns this server version has: two_phase (14) and wal_status (13) are newer than the rest.
    const [row] = await this.#sql<{ slot: SlotRow }[]>`select to_jsonb(s) as slot from pg_replication_slots s where slot_name = ${name}`
    if (!row) return undefined
    const s = row.slot
    return {
      plugin: s.plugin,
      slotType: s.slot_type,
      database: s.database,
      activePid: s.active_pid,
      confirmedFlushLsn: s.confirmed_flush_lsn,
      twoPhase: s.two_phase === true,
      walStatus: s.wal_status ?? null,
    }
  }

  /** The server's current WAL position ("X/Y"); null on a server in recovery. */
  async currentWalLsn(): Promise<string | null> {
    const [row] = await this.#sql<{ lsn: string | null }[]>`select case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end as lsn`
    return row?.lsn ?? null
  }

  /**
   * Runs one statement with bound parameters over this connection (the slot monitor's look-ups).
   * @internal Left out of the package's declarations.
   */
  query<Row>(text: string, parameters: readonly (string | null)[] = []): Promise<Row[]> {
    return this.#sql.unsafe(text, [...parameters]) as unknown as Promise<Row[]>
  }

  /** The slot records in `table` (see slot-markers.ts), over this connection. */
  slotMarkers(table: QualifiedName): SlotMarkers {
    return new SlotMarkers(
      <Row>(text: string, parameters: readonly (string | null)[]) => this.#sql.unsafe(text, [...parameters]) as unknown as Promise<Row[]>,
      table,
    )
  }

  /** Creates a persistent logical slot with pgoutput (parameters bound, so any name is safe); returns its start position. */
  async createSlot(name: string): Promise<string> {
    const [row] = await this.#sql<{ lsn: string }[]>`select lsn::text as lsn from pg_create_logical_replication_slot(${name}, 'pgoutput')`
    return row?.lsn ?? '0/0'
  }

  async dropSlot(name: string): Promise<void> {
    await this.#sql`select pg_drop_replication_slot(${name})`
  }

  async currentDatabase(): Promise<string> {
    const [row] = await this.#sql<{ db: string }[]>`select current_database() as db`
    return row?.db ?? ''
  }

  async publicationExists(name: string): Promise<boolean> {
    const rows = await this.#sql`select 1 from pg_publication where pubname = ${name}`
    return rows.length > 0
  }

  /**
   * Creates the publication for all tables, or for the given tables (every name quoted). From
   * PostgreSQL 13 on it publishes partitioned tables as their root, so a table's changes carry its
   * own name and key whichever partition holds the row.
   */
  async createPublication(name: string, tables: readonly string[]): Promise<void> {
    const target = tables.length === 0 ? 'FOR ALL TABLES' : `FOR TABLE ${tables.map((t) => quoteQualifiedName(parseQualifiedName(t))).join(', ')}`
    const [row] = await this.#sql<{ version: string }[]>`select current_setting('server_version_num') as version`
    const version = Number(row?.version)
    const viaRoot = version >= 130000 ? ' WITH (publish_via_partition_root = true)' : ''
    try {
      await this.#sql.unsafe(`CREATE PUBLICATION ${quoteIdent(name)} ${target}${viaRoot}`)
    } catch (error) {
      // Before PostgreSQL 13 only partitions can be published: `"x" is a partitioned table` (feature_not_supported).
      if (version >= 130000 || (error as { code?: unknown }).code !== '0A000') throw error
      throw new PgToBrokersError(
        'partitioned_table_unsupported',
        `cannot create publication "${name}": ${(error as Error).message}, which PostgreSQL before 13 cannot publish: ` +
          `list its partitions in tables instead, or upgrade to PostgreSQL 13 or later`,
        { cause: error },
      )
    }
  }

  /** Tables listed in the config that do not exist, as "schema.table". */
  async missingTables(tables: readonly string[]): Promise<string[]> {
    const names: QualifiedName[] = tables.map((t) => parseQualifiedName(t))
    const missing: string[] = []
    for (const n of names) {
      const rows = await this
        .#sql`select 1 from pg_class c join pg_namespace s on s.oid = c.relnamespace where s.nspname = ${n.schema} and c.relname = ${n.name} and
          c.relkind in ('r', 'p')`
      if (rows.length === 0) missing.push(`${n.schema}.${n.name}`)
    }
    return missing
  }

  /**
   * Configured tables ("schema.table") that the publication does not publish (none for FOR ALL
   * TABLES). A partitioned table counts as published when it, a partition ancestor, or every one of
   * its leaf partitions is: pg_publication_tables lists the leaves unless publish_via_partition_root.
   */
  async tablesNotInPublication(publication: string, tables: readonly string[]): Promise<string[]> {
    const absent: string[] = []
    for (const n of tables.map((t) => parseQualifiedName(t))) {
      if (!(await this.#published(publication, n))) absent.push(`${n.schema}.${n.name}`)
    }
    return absent
  }

  /**
   * Published tables that have neither a primary key nor another replica identity: PostgreSQL
   * refuses UPDATE and DELETE on them while they are published, and their changes carry no key.
   * A partitioned table published as its root is checked by its leaf partitions, whose identity
   * is the one PostgreSQL checks.
   */
  async tablesWithoutReplicaIdentity(publication: string): Promise<string[]> {
    const rows = await this.#sql<{ name: string }[]>`
      with recursive tree as (
        select c.oid from pg_publication_tables p
        join pg_namespace n on n.nspname = p.schemaname
        join pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
        where p.pubname = ${publication}
        union
        select i.inhrelid from tree t join pg_inherits i on i.inhparent = t.oid join pg_class k on k.oid = i.inhrelid where k.relispartition
      )
      select distinct n.nspname || '.' || c.relname as name
      from tree t join pg_class c on c.oid = t.oid join pg_namespace n on n.oid = c.relnamespace
      where c.relkind <> 'p'
        and (c.relreplident = 'n'
          or (c.relreplident = 'd' and not exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary))
          or (c.relreplident = 'i' and not exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisreplident)))
      order by 1`
    return rows.map((r) => r.name)
  }

  /** Primary-key column names of a relation, in key order; empty when it has none. */
  async primaryKey(relationOid: number): Promise<string[]> {
    const rows = await this.#midStream(
      () => this.#sql<{ attname: string }[]>`
      select a.attname from pg_index i
      join lateral unnest(i.indkey) with ordinality k(attnum, ord) on true
      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
      where i.indrelid = ${relationOid} and i.indisprimary order by k.ord`,
    )
    return rows.map((r) => r.attname)
  }

  /** Resolves type OIDs (domains to base types, arrays to elements) with one query per unseen level. */
  async types(oids: readonly number[]): Promise<Map<number, PgType>> {
    await this.#midStream(() => this.#load(oids))
    const out = new Map<number, PgType>()
    for (const oid of oids) out.set(oid, this.#types.get(oid) ?? unknownType(oid))
    return out
  }

  /**
   * Takes the session-level advisory lock keyed on the slot name without waiting; true when this
   * session holds it. The lock ends with the session, so a killed holder frees it at once.
   */
  async tryLeaseSlot(slot: string): Promise<boolean> {
    if (this.#leases.has(slot)) return true
    const [row] = await this.#sql<{ ok: boolean }[]>`select pg_try_advisory_lock(hashtext('pg_to_brokers:' || ${slot})) as ok`
    if (row?.ok === true) this.#leases.add(slot)
    return row?.ok === true
  }

  /** Releases the advisory locks taken, then ends the session. Never throws. */
  async close(): Promise<void> {
    for (const slot of this.#leases) {
      await this.#sql`select pg_advisory_unlock(hashtext('pg_to_brokers:' || ${slot}))`.catch(() => {})
    }
    this.#leases.clear()
    await this.#sql.end({ timeout: 1 }).catch(() => {})
  }

  /**
   * True when the publication publishes the table's changes: the table or a partition ancestor is
   * listed by pg_publication_tables or added to the publication itself (pg_publication_rel), or it
   * has leaf partitions and all of them are listed. pg_inherits rather than pg_partition_tree, which
   * PostgreSQL 10 and 11 lack.
   */
  async #published(publication: string, table: QualifiedName): Promise<boolean> {
    const [row] = await this.#sql<{ published: boolean }[]>`
      with recursive
        target as (select c.oid from pg_class c join pg_namespace s on s.oid = c.relnamespace where s.nspname = ${table.schema} and c.relname = ${table.name}),
        listed as (
          select c.oid from pg_publication_tables p
          join pg_namespace n on n.nspname = p.schemaname
          join pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
          where p.pubname = ${publication}
          union
          select r.prrelid from pg_publication_rel r join pg_publication b on b.oid = r.prpubid where b.pubname = ${publication}
        ),
        ancestors as (
          select oid from target
          union
          select i.inhparent from ancestors a join pg_class k on k.oid = a.oid join pg_inherits i on i.inhrelid = a.oid where k.relispartition
        ),
        descendants as (
          select oid from target
          union
          select i.inhrelid from descendants d join pg_inherits i on i.inhparent = d.oid join pg_class k on k.oid = i.inhrelid where k.relispartition
        ),
        leaves as (select d.oid from descendants d join pg_class k on k.oid = d.oid where k.relkind <> 'p')
      select exists (select 1 from ancestors where oid in (select oid from listed))
        or (exists (select 1 from leaves) and not exists (select 1 from leaves where oid not in (select oid from listed))) as published`
    return row?.published === true
  }

  /**
   * Runs a look-up made while streaming (for a Relation message). A failure there is a lost
   * connection like one of the replication stream, which the supervisor retries, not a final error.
   */
  async #midStream<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query()
    } catch (error) {
      throw explainConnectionError(error, this.#settings, this.user)
    }
  }

  async #load(oids: readonly number[]): Promise<void> {
    const wanted = [...new Set(oids)].filter((oid) => !this.#types.has(oid))
    if (wanted.length === 0) return
    const rows = await this.#sql<TypeRow[]>`
      select t.oid::int as oid, format_type(t.oid, null) as name, t.typtype::text as typtype,
             t.typbasetype::int as typbasetype, t.typelem::int as typelem, t.typdelim::text as typdelim,
             t.typcategory::text as typcategory, t.typoutput::text as typoutput
      from pg_type t where t.oid = any(${`{${wanted.join(',')}}`}::oid[])`
    const dependencies = rows.flatMap((r) => (r.typtype === 'd' ? [r.typbasetype] : isArray(r) ? [r.typelem] : []))
    await this.#load(dependencies)
    for (const row of rows) this.#types.set(row.oid, this.#resolve(row))
  }

  #resolve(row: TypeRow): PgType {
    if (row.typtype === 'd') {
      const base = this.#types.get(row.typbasetype) ?? unknownType(row.typbasetype)
      return { ...base, oid: row.oid, name: base.name }
    }
    if (isArray(row)) {
      const element = this.#types.get(row.typelem) ?? unknownType(row.typelem)
      // The delimiter belongs to the element type (box uses ';').
      return { oid: row.oid, name: row.name, scalarOid: 0, element, delimiter: element.delimiter }
    }
    const scalarOid = row.typtype === 'b' && row.oid < 16384 ? row.oid : TEXT_OID
    return { oid: row.oid, name: row.name, scalarOid, delimiter: row.typdelim }
  }
}

/**
 * int2vector and oidvector also have category 'A' and an element type, but their text is
 * space-separated ('1 2 3'), not an array literal: only what array_out prints is parsed as one.
 */
function isArray(row: TypeRow): boolean {
  return row.typcategory === 'A' && row.typelem !== 0 && row.typtype !== 'd' && row.typoutput === 'array_out'
}

function unknownType(oid: number): PgType {
  return { oid, name: `oid:${oid}`, scalarOid: TEXT_OID, delimiter: ',' }
}
