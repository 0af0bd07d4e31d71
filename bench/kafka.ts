/**
 * @module Benchmark: rows/s streamed to the local Kafka broker (scripts/kafka.sh) next to the
 * stdout writer's (to /dev/null), from one run of one workload (`--rows`, default 50,000 inserts
 * in 1,000-row transactions). Each consumer reads its own copy of one slot made before the
 * workload, so all decode the same WAL. The stdout writer runs in a child process whose stdout is
 * /dev/null. One local broker on a 2-core machine shares the CPU with PostgreSQL and this process:
 * the figures show the writer's own cost, not a cluster's throughput. The last row is the writer
 * alone: synthetic records shaped like the workload's, published in batches of 1000 one after
 * another as the pipeline does, without PostgreSQL: the ceiling of the serial publish chain
 * (encode, request, the broker's append and acknowledgement) on this machine.
 *
 *   node_modules/.bin/tsx bench/kafka.ts [--rows 50000]      (also: deno run -A …, bun …)
 */
import { spawn } from 'node:child_process'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'
import { runPipeline, StdoutWriter, type StreamWriter } from '../mod.ts'
import type { Change } from '../src/change/change.ts'
import type { WriterRecord } from '../src/writers/writer.ts'
import { KafkaWriter, type KafkaWriterOptions } from '../src/writers/kafka/mod.ts'
import { createTopics, deleteTopics, KAFKA_BROKERS, kafkaAvailable } from '../tests/integration/kafka-support.ts'
import { currentRuntime, scriptCommand } from '../tests/integration/process.ts'
import { CountingWriter } from './counting-writer.ts'

const URL = process.env.PG_TO_BROKERS_TEST_URL ?? 'postgres://pgtb:pgtb-secret@127.0.0.1:54329/pgtb'
const TRANSACTION_ROWS = 1000
const PARTITIONS = 3

interface Result {
  readonly name: string
  readonly ms: number
}

/** Streams `slot` until `rows` records were published; resolves with the milliseconds that took. */
async function drain(slot: string, publication: string, rows: number, inner: StreamWriter, maxRecords = 1000): Promise<number> {
  const controller = new AbortController()
  const started = performance.now()
  const writer = new CountingWriter(inner, rows, () => controller.abort())
  const postgresOptions = { url: URL, slot, publication, tables: [], createSlot: false, createPublication: false }
  await runPipeline({ postgres: postgresOptions, writer, batch: { maxRecords, maxBytes: 16 * 1024 * 1024 }, signal: controller.signal })
  return writer.finishedAt - started
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
      if (code === 0 && match) resolve({ name: 'stdout writer (to /dev/null)', ms: Number(match[1]) })
      else reject(new Error(`stdout child exited ${code}: ${stderr.trim()}`))
    })
  })
}

async function main(rows: number): Promise<void> {
  const skip = await kafkaAvailable()
  if (skip !== undefined) throw new Error(skip)
  const sql = postgres(URL, { max: 2, onnotice: () => {} })
  const table = `bench_kafka_${Date.now().toString(36)}`
  const runs: readonly [string, Partial<KafkaWriterOptions>, number][] = [
    ['kafka, batches of 1000', {}, 1000],
    ['kafka, batches of 5000 (--batch-size)', {}, 5000],
    ['kafka, batches of 5000, lz4', { compression: 'lz4' }, 5000],
  ]
  const slots = ['stdout', ...runs.map((_, i) => `k${i}`)].map((n) => `${table}_${n}`)
  const topic = `${table}_topic`
  try {
    await sql.unsafe(`create table ${table} (id bigserial primary key, account int, amount numeric(12,2), note text, created_at timestamptz default now())`)
    await sql.unsafe(`create publication ${table} for table ${table}`)
    await sql`select pg_create_logical_replication_slot(${`${table}_t`}, 'pgoutput')`
    for (let done = 0; done < rows; done += TRANSACTION_ROWS) {
      const n = Math.min(TRANSACTION_ROWS, rows - done)
      await sql.unsafe(`insert into ${table} (account, amount, note) select i % 1000, (i % 100000) / 100.0, 'note ' || i from generate_series(1, ${n}) i`)
    }
    for (const slot of slots) await sql`select pg_copy_logical_replication_slot(${`${table}_t`}, ${slot})`
    await createTopics([topic], PARTITIONS)
    const results: Result[] = [await stdoutRun(slots[0]!, table, rows)]
    for (const [i, [name, options, batch]] of runs.entries()) {
      const writer = new KafkaWriter({ brokers: KAFKA_BROKERS, topic, ...options })
      results.push({ name, ms: await drain(slots[i + 1]!, table, rows, writer, batch) })
    }
    results.push({ name: 'kafka writer alone (no PostgreSQL), batches of 1000', ms: await writerAlone(topic, rows) })
    report(rows, results)
  } finally {
    for (const slot of [`${table}_t`, ...slots])
      await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${slot}`.catch(() => {})
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${table}`)
    await sql.end()
    await deleteTopics([topic])
  }
}

/** Publishes `rows` synthetic INSERT records in batches of 1000, one batch at a time; resolves with the milliseconds. */
async function writerAlone(topic: string, rows: number): Promise<number> {
  const writer = new KafkaWriter({ brokers: KAFKA_BROKERS, topic })
  await writer.init()
  const relation = { schema: 'public', name: 'bench', qualifiedName: 'public.bench' }
  const utf8 = new TextEncoder()
  const batches: WriterRecord[][] = []
  for (let done = 0; done < rows; done += TRANSACTION_ROWS) {
    const lsn = `0/${(0x1000000 + done).toString(16).toUpperCase()}`
    batches.push(
      Array.from({ length: Math.min(TRANSACTION_ROWS, rows - done) }, (_, i) => {
        const change = { id: `${lsn}:${i}`, operation: 'INSERT', relation, transactionId: 1000 + done, commitLsn: BigInt(done) } as unknown as Change
        const data = utf8.encode(
          `{"fields":["id","account","amount","note","created_at"],"values":[${done + i},${i % 1000},"${i}.25","note ${i}",` +
            `"2026-01-01T00:00:00.000000Z"],"types":["bigint","integer","numeric","text","timestamp with time zone"],"table_name":"public.bench",` +
            `"operation":"INSERT","transaction_id":${1000 + done},"id":"${lsn}:${i}","lsn":"${lsn}","commit_time":"2026-01-01T00:00:00.000000Z"}`,
        )
        return { change, data, partitionKey: `public.bench:${done + i}` }
      }),
    )
  }
  const started = performance.now()
  for (const batch of batches) await writer.publish(batch)
  const ms = performance.now() - started
  await writer.close()
  return ms
}

function report(rows: number, results: readonly Result[]): void {
  const baseline = rows / (results[0]!.ms / 1000)
  process.stdout.write(`${rows} rows, ${currentRuntime()}, local Kafka broker (1 node, ${PARTITIONS} partitions, acks=all, idempotent)\n`)
  for (const { name, ms } of results) {
    const rate = rows / (ms / 1000)
    process.stdout.write(`  ${name.padEnd(44)} ${Math.round(rate).toLocaleString('en-US').padStart(9)} rows/s  ${(rate / baseline).toFixed(2)}× stdout\n`)
  }
}

const argv = process.argv.slice(2)
if (argv[0] === '--stdout-child') {
  const ms = await drain(argv[1]!, argv[2]!, Number(argv[3]), new StdoutWriter())
  process.stderr.write(`elapsed ${ms}\n`)
  process.exit(0)
} else {
  const at = argv.indexOf('--rows')
  await main(at >= 0 ? Number(argv[at + 1]) : 50_000)
  process.exit(0)
}
