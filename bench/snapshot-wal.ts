/**
 * @module `npx tsx bench/snapshot-wal.ts [rows] [changes/s]`: the WAL a slot retains while an
 * incremental snapshot of a large table runs under a steady write load, against the same load
 * without a snapshot. Streams with the library (stdout writer's cost: records are encoded and
 * dropped) from a fresh slot on the test cluster (scripts/pg.sh; PG_TO_BROKERS_TEST_URL); samples
 * `pg_current_wal_lsn() - confirmed_flush_lsn` every 250 ms; prints max and mean of both phases.
 */
import process from 'node:process'
import postgres from 'postgres'
import { runPipeline } from '../src/pipeline/pipeline.ts'
import { SnapshotProgressStore } from '../src/snapshot/progress-store.ts'
import { StreamWriter, type WriterRecord } from '../src/writers/writer.ts'

const URL_ = process.env.PG_TO_BROKERS_TEST_URL ?? 'postgres://pgtb:pgtb-secret@127.0.0.1:54329/pgtb'
const ROWS = Number(process.argv[2] ?? 1_000_000)
const RATE = Number(process.argv[3] ?? 1000)
const TABLE = `bench_wal_${process.pid}`
const LOAD_TABLE = `bench_wal_load_${process.pid}`
const SLOT = `bench_wal_${process.pid}`
const PUBLICATION = `bench_wal_pub_${process.pid}`

class DroppingWriter extends StreamWriter {
  rows = 0
  override async publish(records: readonly WriterRecord[]): Promise<void> {
    this.rows += records.length
  }
}

interface Retention {
  max: number
  mean: number
  samples: number
}

const sql = postgres(URL_, { max: 4, onnotice: () => {} })

/** Runs up to `RATE` single-row changes a second (on the load table and the snapshotted one) until `until` resolves, or `count` are made. */
async function load(until: Promise<unknown>, count = Number.POSITIVE_INFINITY): Promise<number> {
  let stop = false
  until.then(() => (stop = true))
  let made = 0
  const started = performance.now()
  while (!stop && made < count) {
    const id = 1 + Math.floor(Math.random() * ROWS)
    if (made % 2 === 0) await sql.unsafe(`insert into ${LOAD_TABLE} (note) values (md5(random()::text))`)
    else await sql.unsafe(`update ${TABLE} set amount = amount + 1 where id = ${id}`)
    made++
    const ahead = made / RATE - (performance.now() - started) / 1000
    if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead * 1000))
  }
  return made
}

async function sample(until: Promise<unknown>): Promise<Retention> {
  let stop = false
  until.then(() => (stop = true))
  const values: number[] = []
  while (!stop) {
    const [row] = await sql<{ retained: string }[]>`
      select (pg_current_wal_lsn() - confirmed_flush_lsn)::text as retained from pg_replication_slots where slot_name = ${SLOT}`
    values.push(Number(row?.retained ?? 0))
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return { max: Math.max(...values), mean: values.reduce((a, b) => a + b, 0) / values.length, samples: values.length }
}

async function main(): Promise<void> {
  await sql.unsafe(`create table ${TABLE} (id bigint primary key, name text not null, amount numeric(12,2), created timestamptz not null)`)
  await sql.unsafe(`insert into ${TABLE} select g, 'customer ' || g, g % 1000, now() from generate_series(1, ${ROWS}) g`)
  await sql.unsafe(`create table ${LOAD_TABLE} (id bigserial primary key, note text)`)
  await sql.unsafe(`vacuum analyze ${TABLE}`)
  const writer = new DroppingWriter()
  const controller = new AbortController()
  const postgresOptions = { url: URL_, slot: SLOT, publication: PUBLICATION, tables: [TABLE, LOAD_TABLE], createSlot: true, createPublication: true }
  const pipeline = runPipeline({
    postgres: postgresOptions,
    writer,
    signal: controller.signal,
    snapshot: { mode: 'never', chunkSize: 4096, parallelTables: 1, progress: 'off' },
  })
  try {
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const store = new SnapshotProgressStore(sql, { schema: 'public', name: 'pg_to_brokers_slots' })
    await store.ensure()
    const started = performance.now()
    const [request] = await store.request(SLOT, [{ table: `public.${TABLE}` }], 'incremental')
    const snapshotDone = (async () => {
      while ((await store.get(request!.id))?.status !== 'done') await new Promise((resolve) => setTimeout(resolve, 200))
    })()
    const [withSnapshot, changesDuring] = await Promise.all([sample(snapshotDone), load(snapshotDone)])
    const seconds = (performance.now() - started) / 1000
    // The same changes at the same pace, without the snapshot.
    let finished: () => void = () => {}
    const loaded = new Promise<void>((resolve) => (finished = resolve))
    const [without, changesWithout] = await Promise.all([
      sample(loaded),
      load(new Promise((resolve) => setTimeout(resolve, seconds * 1000)), changesDuring).finally(() => finished()),
    ])
    const kb = (bytes: number) => (bytes / 1024).toFixed(0)
    console.log(`incremental snapshot of ${ROWS} rows under ${RATE} changes/s: ${seconds.toFixed(1)} s, ${Math.round(ROWS / seconds)} rows/s`)
    console.log('| phase | changes | retained WAL max KiB | mean KiB | samples |')
    console.log('|---|--:|--:|--:|--:|')
    console.log(`| with the snapshot | ${changesDuring} | ${kb(withSnapshot.max)} | ${kb(withSnapshot.mean)} | ${withSnapshot.samples} |`)
    console.log(`| same load, no snapshot | ${changesWithout} | ${kb(without.max)} | ${kb(without.mean)} | ${without.samples} |`)
    console.log(`max ratio (with / without): ${(withSnapshot.max / without.max).toFixed(2)}`)
  } finally {
    controller.abort()
    await pipeline.catch((error) => console.error('pipeline failed:', error))
    await sql`select pg_drop_replication_slot(${SLOT}) from pg_replication_slots where slot_name = ${SLOT}`
    await sql.unsafe(`drop publication if exists ${PUBLICATION}; drop table if exists ${TABLE}, ${LOAD_TABLE}`)
    await sql`delete from pg_to_brokers_snapshots where slot = ${SLOT}`
    await sql`delete from pg_to_brokers_slots where slot_name = ${SLOT}`
    await sql.end()
  }
}

await main()
