/**
 * @module Benchmark: rows/s streamed to a local Kinesis server (kinesis-local) next to the stdout
 * writer's (to /dev/null), from one run of the same workload (`--rows`, default 50,000 inserts in
 * 1,000-row transactions). Each consumer drains its own slot, copied from one template slot made
 * before the workload, so all read the same WAL. The stdout run is a child process whose stdout is
 * /dev/null. kinesis-local is slow (a few MB/s, and slower per record as a shard fills), so it
 * bounds those figures; the null endpoint (bench/null-kinesis.ts: checks signatures and limits, stores
 * nothing) shows the writer's own cost.
 * Neither says anything about AWS's throughput.
 *
 *   node_modules/.bin/tsx bench/kinesis.ts [--rows 50000]      (also: deno run -A …, bun …)
 */
import { spawn } from 'node:child_process'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { runPipeline, StdoutWriter, type StreamWriter } from '../mod.ts'
import { KinesisWriter, type KinesisWriterOptions } from '../src/writers/kinesis/mod.ts'
import { kinesisEndpoint } from '../tests/integration/kinesis-server.ts'
import { createStream, deleteStream, TEST_CREDENTIALS, testClient } from '../tests/integration/kinesis-support.ts'
import { scriptCommand } from '../tests/integration/process.ts'
import { startNullKinesis } from './null-kinesis.ts'
import { CountingWriter } from './counting-writer.ts'

const URL = process.env.PG_TO_BROKERS_TEST_URL ?? 'postgres://pgtb:pgtb-secret@127.0.0.1:54329/pgtb'
const TRANSACTION_ROWS = 1000

interface Result {
  readonly name: string
  readonly rows: number
  readonly ms: number
}

/** kinesis-local gets slower per record as a shard fills: plain records are timed over this many rows only. */
const LOCAL_PLAIN_ROWS = 10_000

/** Runs a pipeline on `slot` until `rows` records were published; resolves with the milliseconds it took. */
async function drain(slot: string, publication: string, rows: number, inner: StreamWriter, maxRecords = 1000): Promise<number> {
  const controller = new AbortController()
  const started = performance.now()
  const writer = new CountingWriter(inner, rows, () => controller.abort())
  // Transactions are sent at commit (no streaming of in-progress ones): every consumer decodes the same way.
  const postgres = { url: URL, slot, publication, tables: [], createSlot: false, createPublication: false, streaming: 'off' as const }
  await runPipeline({ postgres, writer, batch: { maxRecords }, signal: controller.signal })
  process.stderr.write(`bench: ${slot}: ${Math.round(writer.finishedAt - started)} ms\n`)
  return writer.finishedAt - started
}

async function kinesisRun(name: string, slot: string, publication: string, rows: number, options: KinesisWriterOptions, maxRecords = 1000): Promise<Result> {
  return { name, rows, ms: await drain(slot, publication, rows, new KinesisWriter(options), maxRecords) }
}

/** The stdout writer in a child process with stdout on /dev/null; the child reports its time on stderr. */
function stdoutRun(slot: string, publication: string, rows: number): Promise<Result> {
  const { command, args } = scriptCommand(fileURLToPath(import.meta.url))
  const child = spawn(command, [...args, '--stdout-child', slot, publication, String(rows)], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise((resolve, reject) => {
    child.once('close', (code) => {
      const match = /^elapsed (\d+(\.\d+)?)$/m.exec(stderr)
      if (code === 0 && match) resolve({ name: 'stdout writer (to /dev/null)', rows, ms: Number(match[1]) })
      else reject(new Error(`stdout child exited ${code}: ${stderr.trim()}`))
    })
  })
}

async function stdoutChild(slot: string, publication: string, rows: number): Promise<void> {
  const ms = await drain(slot, publication, rows, new StdoutWriter())
  process.stderr.write(`elapsed ${ms}\n`)
}

async function main(rows: number): Promise<void> {
  const sql = postgres(URL, { max: 2, onnotice: () => {} })
  const id = Date.now().toString(36)
  const table = `bench_kinesis_${id}`
  const template = `${table}_t`
  const names = ['stdout', 'local_plain', 'local_aggregated', 'null_plain', 'null_aggregated'].map((n) => `${table}_${n}`)
  const client = await testClient()
  const stream = `bench-${id}`
  try {
    await sql.unsafe(`create table ${table} (id bigserial primary key, account int, amount numeric(12,2), note text, created_at timestamptz default now())`)
    await sql.unsafe(`create publication ${table} for table ${table}`)
    await sql`select pg_create_logical_replication_slot(${template}, 'pgoutput')`
    for (let done = 0; done < rows; done += TRANSACTION_ROWS) {
      const n = Math.min(TRANSACTION_ROWS, rows - done)
      await sql.unsafe(`insert into ${table} (account, amount, note) select i % 1000, (i % 100000) / 100.0, 'note ' || i from generate_series(1, ${n}) i`)
    }
    for (const slot of names) await sql`select pg_copy_logical_replication_slot(${template}, ${slot})`
    const endpoint = await kinesisEndpoint()
    const results: Result[] = [await stdoutRun(names[0]!, table, rows)]
    // A fresh stream per run: kinesis-local slows down as a stream fills.
    for (const [i, aggregation] of [
      [1, false],
      [2, true],
    ] as const) {
      await createStream(client, `${stream}-${i}`, 4)
      const options = { region: 'us-east-1', streamName: `${stream}-${i}`, endpoint, credentials: TEST_CREDENTIALS, aggregation }
      const counted = aggregation ? rows : Math.min(rows, LOCAL_PLAIN_ROWS)
      const name = `kinesis-local, ${aggregation ? 'KPL aggregation' : `plain records${counted < rows ? ` (first ${counted} rows)` : ''}`}`
      results.push(await kinesisRun(name, names[i]!, table, counted, options))
      await deleteStream(client, `${stream}-${i}`)
    }
    const nothing = await startNullKinesis()
    try {
      for (const [i, aggregation] of [
        [3, false],
        [4, true],
      ] as const) {
        const options = { region: 'us-east-1', streamName: 'null', endpoint: nothing.endpoint, credentials: TEST_CREDENTIALS, aggregation }
        results.push(
          await kinesisRun(`null endpoint (writer's own cost), ${aggregation ? 'KPL aggregation' : 'plain records'}`, names[i]!, table, rows, options),
        )
      }
    } finally {
      await nothing.close()
    }
    report(rows, results)
  } finally {
    for (const slot of [template, ...names])
      await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${slot}`.catch(() => {})
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${table}`)
    await sql.end()
  }
}

function report(rows: number, results: readonly Result[]): void {
  const baseline = results[0]!.rows / (results[0]!.ms / 1000)
  const runtime = (globalThis as { Deno?: unknown }).Deno ? 'deno' : (globalThis as { Bun?: unknown }).Bun ? 'bun' : 'node'
  process.stdout.write(`${rows} rows (inserts in ${TRANSACTION_ROWS}-row transactions), ${runtime}, batches of 1000, 4 shards\n`)
  for (const { name, rows: counted, ms } of results) {
    const rate = counted / (ms / 1000)
    process.stdout.write(`  ${name.padEnd(56)} ${Math.round(rate).toLocaleString('en-US').padStart(9)} rows/s  ${(rate / baseline).toFixed(2)}× stdout\n`)
  }
}

const argv = process.argv.slice(2)
if (argv[0] === '--stdout-child') {
  await stdoutChild(argv[1]!, argv[2]!, Number(argv[3]))
  process.exit(0)
} else {
  const at = argv.indexOf('--rows')
  await main(at >= 0 ? Number(argv[at + 1]) : 50_000)
  process.exit(0)
}
