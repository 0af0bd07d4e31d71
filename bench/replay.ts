/**
 * @module A profiling aid: captures the CopyData of a workload once, then replays it offline through
 * the pipeline's stages, so that CPU per row can be measured (and profiled with --cpu-prof) without
 * PostgreSQL's share or the machine's noise. End-to-end figures come from run.ts, not from this.
 *
 *   tsx bench/replay.ts capture [--quick] [--workload=main|wide|single]   save a workload's CopyData to .cache/bench/<workload>.copydata
 *   node --import tsx [--cpu-prof] bench/replay.ts replay [--workload=…] [--stage=decode|assemble|encode|full] [--rounds=N]
 *
 * The replay mirrors pipeline.ts's read loop (which is not exported): decoder → assembler →
 * format → batcher → StdoutWriter. Keep it in step when that loop changes.
 */
import { openSync, readFileSync, writeSync, closeSync } from 'node:fs'
import process from 'node:process'
import { TransactionAssembler, type ChangeSink } from '../src/change/assemble.ts'
import { SeedFormat } from '../src/change/formats/seed.ts'
import { ChangeReceiver } from '../src/change/receive.ts'
import { Catalog } from '../src/pg/catalog.ts'
import { PgoutputDecoder } from '../src/pg/pgoutput/decode.ts'
import { ReplicationConnection } from '../src/pg/replication.ts'
import { isXLogData, XLOG_DATA_HEADER } from '../src/pg/replication-frames.ts'
import { Batcher, DEFAULT_BATCH_OPTIONS } from '../src/pipeline/batcher.ts'
import { silentLogger } from '../src/logger.ts'
import { StdoutWriter } from '../src/writers/stdout.ts'

const ROOT = new URL('..', import.meta.url).pathname
const fileOf = (workload: string) => `${ROOT}.cache/bench/${workload}.copydata`
/** Messages handed over per simulated socket read. */
const MESSAGES_PER_READ = 128

async function capture(quick: boolean, name: string): Promise<void> {
  const db = await import('./db.ts')
  const { workloads } = await import('./workloads.ts')
  const url = db.databaseUrl(process.env['PG_TO_BROKERS_TEST_URL'] ?? 'postgres://pgtb:pgtb-secret@127.0.0.1:54329/pgtb', db.BENCH_DATABASE)
  await db.ensureDatabase(url)
  const sql = db.connect(url)
  const slot = `${db.SLOT_PREFIX}capture`
  try {
    await db.createSchema(sql)
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    const workload = workloads(quick ? 0.1 : 1).find((w) => w.name === name)
    if (!workload) throw new Error(`unknown workload ${name}`)
    await workload.run(sql)
    const target = BigInt(
      `0x${(await db.commitMarker(sql, name))
        .split('/')
        .map((p) => p.padStart(8, '0'))
        .join('')}`,
    )
    const replication = await ReplicationConnection.open(url, 10_000)
    await replication.start({ slot, publication: db.PUBLICATION, startLsn: 0n, protoVersion: 1, streaming: false, messages: false })
    const fd = openSync(fileOf(name), 'w')
    let count = 0
    try {
      outer: for await (const messages of replication.messages()) {
        for (const message of messages) {
          const length = new Uint8Array(4)
          new DataView(length.buffer).setUint32(0, message.length)
          writeSync(fd, length)
          writeSync(fd, message)
          count++
          if (isXLogData(message) && new DataView(message.buffer, message.byteOffset).getBigUint64(1) >= target) break outer
        }
      }
    } finally {
      closeSync(fd)
      await replication.close()
    }
    console.log(`captured ${count} messages to ${fileOf(name)}`)
  } finally {
    await db.dropSlot(sql, slot)
    await sql.end()
  }
}

function load(workload: string): Uint8Array[] {
  const bytes = readFileSync(fileOf(workload))
  const messages: Uint8Array[] = []
  for (let at = 0; at < bytes.length; ) {
    const length = bytes.readUInt32BE(at)
    messages.push(bytes.subarray(at + 4, at + 4 + length))
    at += 4 + length
  }
  return messages
}

type Stage = 'decode' | 'assemble' | 'encode' | 'full'

async function replay(workload: string, stage: Stage, rounds: number): Promise<void> {
  const messages = load(workload)
  const db = await import('./db.ts')
  const catalog = await Catalog.open(
    db.databaseUrl(process.env['PG_TO_BROKERS_TEST_URL'] ?? 'postgres://pgtb:pgtb-secret@127.0.0.1:54329/pgtb', db.BENCH_DATABASE),
    10_000,
  )
  try {
    for (let round = 0; round < rounds; round++) {
      const started = performance.now()
      const cpu = process.cpuUsage()
      const rows = await replayOnce(messages, stage, catalog)
      const seconds = (performance.now() - started) / 1000
      const used = process.cpuUsage(cpu)
      const cpuMicros = used.user + used.system
      console.error(`${stage}: ${rows} rows in ${seconds.toFixed(2)} s = ${(rows / seconds).toFixed(0)} rows/s; CPU ${(cpuMicros / rows).toFixed(2)} µs/row`)
    }
  } finally {
    await catalog.close()
  }
}

async function replayOnce(messages: readonly Uint8Array[], stage: Stage, catalog: Catalog): Promise<number> {
  let rows = 0
  if (stage === 'decode') {
    const decoder = new PgoutputDecoder()
    for (const message of messages) if (isXLogData(message)) decoder.decode(message, XLOG_DATA_HEADER)
    return messages.length
  }
  const writer = new StdoutWriter()
  const format = new SeedFormat()
  const batcher = new Batcher(writer, DEFAULT_BATCH_OPTIONS, () => {})
  const sink: ChangeSink = {
    change: (change) => {
      rows++
      if (stage === 'assemble') return
      const data = format.encode(change)
      const partitionKey = writer.assignChangeToPartitionKey(change)
      if (stage === 'full') return batcher.add({ change, data, partitionKey })
    },
    commit: (endLsn) => (stage === 'full' ? batcher.commit(endLsn) : undefined),
  }
  const receiver = new ChangeReceiver(new TransactionAssembler(catalog, sink), undefined, silentLogger)
  for (let at = 0; at < messages.length; at += MESSAGES_PER_READ) {
    const read = messages.slice(at, at + MESSAGES_PER_READ)
    for (const message of read) {
      if (!isXLogData(message)) continue
      const pending = receiver.handle(message, XLOG_DATA_HEADER)
      if (pending) await pending
    }
    // A socket read ends in a macrotask boundary: let timers and writes run, as they would.
    if (stage === 'full') await new Promise((resolve) => setImmediate(resolve))
  }
  if (stage === 'full') await batcher.drain()
  await receiver.close()
  return rows
}

const [command, ...flags] = process.argv.slice(2)
const flag = (name: string) => flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3)
const workload = flag('workload') ?? 'main'
if (command === 'capture') await capture(flags.includes('--quick'), workload)
else if (command === 'replay') await replay(workload, (flag('stage') ?? 'full') as Stage, Number(flag('rounds') ?? 3))
else throw new Error('usage: replay.ts capture [--quick] [--workload=…] | replay [--workload=…] [--stage=decode|assemble|encode|full] [--rounds=N]')
process.exit(0)
