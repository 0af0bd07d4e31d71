/**
 * @module `npx tsx bench/snapshot.ts [rows]`: how fast a snapshot reads a table, against COPY alone.
 * Creates a table of 1,000,000 rows (a few typical columns) on the test cluster (scripts/pg.sh;
 * PG_TO_BROKERS_TEST_URL), then in one run measures rows/s of
 *   (a) `COPY t TO STDOUT` read to nowhere through postgres.js, and by psql's `\copy … to /dev/null`;
 *   (b) readChunk (a plain query, rows in text format) over the whole table, one REPEATABLE READ
 *       transaction per chunk (as the incremental snapshot reads), chunks of 4096 and 65536 rows, each row encoded by the seed format to nowhere;
 *   (c) the shipped CLI (the bundle; `npm run build` first) copying the table with --snapshot-mode initial_only to /dev/null;
 * and prints each against (a); readChunk is also timed without encoding, to tell reading from encoding. Each figure is the better of two runs; only the ratios mean anything on a shared machine.
 */
import { spawnSync } from 'node:child_process'
import process from 'node:process'
import postgres from 'postgres'
import { SeedFormat } from '../src/change/formats/seed.ts'
import { readChunk } from '../src/snapshot/chunk-reader.ts'
import { describeSnapshotTable, type SnapshotTable } from '../src/snapshot/table.ts'

const URL_ = process.env.PG_TO_BROKERS_TEST_URL ?? 'postgres://pgtb:pgtb-secret@127.0.0.1:54329/pgtb'
const PSQL = `${process.env.PG_TO_BROKERS_PG_BIN ?? '/usr/lib/postgresql/15/bin'}/psql`
const ROWS = Number(process.argv[2] ?? 1_000_000)
const TABLE = `bench_snapshot_${process.pid}`
const PUBLICATION = `bench_snapshot_pub_${process.pid}`

const sql = postgres(URL_, { max: 2, onnotice: () => {} })

async function setUp(): Promise<void> {
  await sql.unsafe(`create table ${TABLE} (id bigint primary key, name text not null, amount numeric(12,2), created timestamptz not null,
    tags text[], payload jsonb, active boolean not null)`)
  await sql.unsafe(`insert into ${TABLE} select g, 'customer ' || g || E'\\twith tab', (g % 100000) / 100.0, '2024-01-01'::timestamptz + g * interval '1 second',
    array['a' || g % 10, 'b'], jsonb_build_object('n', g, 'note', 'line' || E'\\n' || g), g % 3 = 0 from generate_series(1, ${ROWS}) g`)
  await sql.unsafe(`vacuum analyze ${TABLE}`)
  await sql.unsafe(`create publication ${PUBLICATION} for table ${TABLE}`)
}

async function tearDown(): Promise<void> {
  await sql.unsafe(`drop publication if exists ${PUBLICATION}; drop table if exists ${TABLE}`)
  await sql.end()
}

/** Seconds `fn` takes, the better of two runs. */
async function best(fn: () => Promise<number>): Promise<number> {
  const times: number[] = []
  for (let run = 0; run < 2; run++) {
    const started = performance.now()
    const rows = await fn()
    if (rows !== ROWS) throw new Error(`read ${rows} rows, expected ${ROWS}`)
    times.push((performance.now() - started) / 1000)
  }
  return Math.min(...times)
}

async function copyThroughDriver(): Promise<number> {
  const stream = await sql.unsafe(`COPY ${TABLE} TO STDOUT`).readable()
  let rows = 0
  try {
    for await (const chunk of stream) {
      const bytes = chunk as Uint8Array
      for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) rows++
    }
  } finally {
    // postgres.js leaves the socket paused when CopyDone came in the read that filled the stream's
    // buffer (porsager/postgres#499): the next query on the connection would wait forever.
    ;(stream as unknown as { _read(size: number): void })._read(0)
  }
  return rows
}

async function copyThroughPsql(): Promise<number> {
  const result = spawnSync(PSQL, [URL_, '-X', '-q', '-c', `\\copy ${TABLE} to '/dev/null'`], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`)
  return ROWS
}

/**
 * The shipped CLI as users run it: the bundle (`npm run build` first) on this Node, an initial
 * snapshot through a temporary slot (`--snapshot-mode initial_only`), default format, stdout to /dev/null.
 */
async function cliInitialOnly(): Promise<number> {
  const bundle = new URL('../dist/pg-to-brokers.mjs', import.meta.url).pathname
  const result = spawnSync(
    process.execPath,
    [
      bundle,
      'run',
      '--slot',
      `bench_snap_${process.pid}`,
      '--publication',
      PUBLICATION,
      '--tables',
      TABLE,
      '--snapshot-mode',
      'initial_only',
      '--snapshot-progress',
      'off',
    ],
    { env: { ...process.env, PG_TO_BROKERS_POSTGRES_URL: URL_ }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
  )
  if (result.status !== 0) throw new Error(`the CLI failed: ${result.stderr}`)
  await sql`delete from pg_to_brokers_snapshots where slot = ${`bench_snap_${process.pid}`}`
  return ROWS
}

async function snapshot(table: SnapshotTable, chunkSize: number, encode = true): Promise<number> {
  const format = new SeedFormat()
  const position = { requestId: 1, commitLsn: 0n }
  let rows = 0
  let bytes = 0
  let after: string[] | undefined
  for (;;) {
    const chunk = await sql.begin('isolation level repeatable read read only', (tx) => readChunk(tx, table, after, chunkSize, position))
    if (encode) for (const change of chunk.changes) bytes += format.encode(change).length
    else bytes += chunk.rows
    rows += chunk.rows
    if (chunk.rows < chunkSize || !chunk.lastKey) break
    after = chunk.lastKey
  }
  if (bytes === 0) throw new Error('nothing encoded')
  return rows
}

await setUp()
try {
  const table = await describeSnapshotTable(sql, TABLE, PUBLICATION, undefined)
  const results: [string, number][] = [
    ['(a) COPY through postgres.js', await best(copyThroughDriver)],
    ['(a) psql \\copy to /dev/null', await best(copyThroughPsql)],
    ['(c) pg-to-brokers run --snapshot-mode initial_only > /dev/null', await best(cliInitialOnly)],
    ['(b) readChunk 4096 + seed format', await best(() => snapshot(table, 4096))],
    ['(b) readChunk 65536 + seed format', await best(() => snapshot(table, 65536))],
    ['readChunk 4096, not encoded', await best(() => snapshot(table, 4096, false))],
    ['readChunk 65536, not encoded', await best(() => snapshot(table, 65536, false))],
  ]
  const driver = results[0]![1]
  const psql = results[1]![1]
  console.log(`| ${ROWS} rows | rows/s | vs COPY through postgres.js | vs psql |`)
  console.log('|---|---:|---:|---:|')
  for (const [name, seconds] of results) {
    console.log(`| ${name} | ${Math.round(ROWS / seconds)} | ${(driver / seconds).toFixed(2)} | ${(psql / seconds).toFixed(2)} |`)
  }
} finally {
  await tearDown()
}
