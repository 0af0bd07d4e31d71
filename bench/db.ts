/**
 * @module The benchmark's database objects: its own database (so other tests' changes are not in
 * its slots), tables, publication, the template slot and its copies, and the exact end LSN of a
 * workload. Every slot it makes is named `pgtb_bench_…` and dropped by `dropBenchSlots`.
 */
import postgres from 'postgres'

export const BENCH_DATABASE = 'pgtb_bench'
export const PUBLICATION = 'pgtb_bench'
export const SLOT_PREFIX = 'pgtb_bench_'
const TEMPLATE_SLOT = `${SLOT_PREFIX}template`
const END_SLOT = `${SLOT_PREFIX}end`

/**
 * The PostgreSQL default. The project's test cluster sets 64kB (so that tests exercise spilling
 * and streaming); the benchmark measures the default, set on its database so that walsenders
 * connected to it use it and other tests keep theirs.
 */
const DECODING_WORK_MEM = '64MB'

/** `url` with its database replaced. */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.href
}

export function connect(url: string): postgres.Sql {
  return postgres(url, { max: 2, onnotice: () => {}, idle_timeout: 30, connection: { application_name: 'pgtb_bench' } })
}

/** Creates the bench database if missing (owned by the connecting role). `url` points at any database. */
export async function ensureDatabase(url: string): Promise<void> {
  const sql = connect(url)
  try {
    const [row] = await sql`select 1 as present from pg_database where datname = ${BENCH_DATABASE}`
    if (!row) await sql.unsafe(`create database ${BENCH_DATABASE} owner ${sql.options.user}`)
    await sql.unsafe(`alter database ${BENCH_DATABASE} set logical_decoding_work_mem = '${DECODING_WORK_MEM}'`)
  } finally {
    await sql.end()
  }
}

/** Drops leftovers of an earlier run, then creates the tables and the publication afresh. */
export async function createSchema(sql: postgres.Sql): Promise<void> {
  await dropBenchSlots(sql)
  await sql.unsafe(`
    set client_min_messages = warning;
    drop publication if exists ${PUBLICATION};
    drop table if exists bench, bench_wide, bench_marker;
    create table bench(id bigserial primary key, account int, amount numeric(12,2), note text, created_at timestamptz default now());
    create table bench_wide(id bigserial primary key, account int, title text, body text, doc jsonb, created_at timestamptz default now());
    create table bench_marker(id serial primary key, workload text not null, at timestamptz default now());
    create publication ${PUBLICATION} for table bench, bench_wide, bench_marker;
  `)
}

/** Empties the tables before a workload; done before its template slot exists, so no slot sees it. */
export async function truncateTables(sql: postgres.Sql): Promise<void> {
  await sql`truncate bench, bench_wide, bench_marker restart identity`
}

/** Creates the template slot: every consumer's slot is a copy of it, so each drains the same changes. */
export async function createTemplateSlot(sql: postgres.Sql): Promise<void> {
  await sql`select pg_create_logical_replication_slot(${TEMPLATE_SLOT}, 'pgoutput')`
}

/**
 * Commits a one-row marker transaction after the workload and returns its end LSN: the position a
 * consumer confirms once it has everything. Read exactly by decoding only the marker, through a
 * slot created just before it (the WAL position after a commit also holds other databases' WAL).
 */
export async function commitMarker(sql: postgres.Sql, workload: string): Promise<string> {
  await sql`select pg_create_logical_replication_slot(${END_SLOT}, 'pgoutput')`
  try {
    // Flushed at commit (the test cluster runs synchronous_commit = off): decoding reads flushed WAL only.
    await sql.begin(async (tx) => {
      await tx`set local synchronous_commit = on`
      await tx`insert into bench_marker(workload) values (${workload})`
    })
    const rows = await sql<{ lsn: string }[]>`
      select lsn::text from pg_logical_slot_peek_binary_changes(${END_SLOT}, null, null, 'proto_version', '1', 'publication_names', ${PUBLICATION})
      where get_byte(data, 0) = ascii('C')`
    if (rows.length !== 1) throw new Error(`expected the marker's one commit, decoded ${rows.length}`)
    return rows[0]!.lsn
  } finally {
    await sql`select pg_drop_replication_slot(${END_SLOT})`
  }
}

/** One copy of the template per consumer, then the template goes (the copies retain the WAL). */
export async function copyTemplate(sql: postgres.Sql, names: readonly string[], dropTemplate = true): Promise<void> {
  for (const name of names) await sql`select pg_copy_logical_replication_slot(${TEMPLATE_SLOT}, ${name})`
  if (dropTemplate) await sql`select pg_drop_replication_slot(${TEMPLATE_SLOT})`
}

/** Creates a fresh slot (for the latency run, which streams what is committed while it runs). */
export async function createSlot(sql: postgres.Sql, name: string): Promise<void> {
  await sql`select pg_create_logical_replication_slot(${name}, 'pgoutput')`
}

/** The walsender serving `slot`, once it has one. */
export async function activePid(sql: postgres.Sql, slot: string): Promise<number | undefined> {
  const [row] = await sql<{ pid: number | null }[]>`select active_pid as pid from pg_replication_slots where slot_name = ${slot}`
  return row?.pid ?? undefined
}

/** Whether the slot's confirmed flush LSN has reached `lsn` ("X/Y"). */
export async function confirmedPast(sql: postgres.Sql, slot: string, lsn: string): Promise<boolean> {
  const [row] = await sql<{ done: boolean | null }[]>`select confirmed_flush_lsn >= ${lsn}::pg_lsn as done from pg_replication_slots where slot_name = ${slot}`
  return row?.done === true
}

/** Drops a slot once its walsender has let go of it; a missing slot is fine. */
export async function dropSlot(sql: postgres.Sql, slot: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const [row] = await sql<{ active: boolean }[]>`select active from pg_replication_slots where slot_name = ${slot}`
    if (!row) return
    if (!row.active) {
      await sql`select pg_drop_replication_slot(${slot})`
      return
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`slot ${slot} stayed active: drop it by hand`)
}

/** Drops every slot of this benchmark (they retain WAL for as long as they exist). */
export async function dropBenchSlots(sql: postgres.Sql): Promise<void> {
  const rows = await sql<{ slot_name: string }[]>`select slot_name from pg_replication_slots where starts_with(slot_name, ${SLOT_PREFIX})`
  for (const { slot_name } of rows) await dropSlot(sql, slot_name)
}

/** Whether the server accepts TLS connections. */
export async function sslEnabled(sql: postgres.Sql): Promise<boolean> {
  const [row] = await sql<{ ssl: string }[]>`select current_setting('ssl') as ssl`
  return row!.ssl === 'on'
}

/** The server's version, for the report. */
export async function serverVersion(sql: postgres.Sql): Promise<string> {
  const [row] = await sql<{ version: string }[]>`select current_setting('server_version') as version`
  return row!.version
}
