/**
 * @module Commit→visible-in-Kafka latency: the shipped CLI with `--writer kafka` streams the
 * latency load to a fresh topic while a consumer in this process reads it from the broker. A
 * transaction is visible once its last record was fetched; its latency is that moment minus the
 * commit time its records carry (`commit_time`). Both clocks are this machine's wall clock.
 */
import { Consumer } from '@platformatic/kafka'
import type postgres from 'postgres'
import { prepareKafka } from './brokers.ts'
import type { Command } from './consumers.ts'
import { commitMarker, createSlot, dropSlot } from './db.ts'
import { generateLoad, latencyResult, loadRows, waitForWalsender, type LatencyResult, type LoadShape } from './latency.ts'
import { measure, sleep } from './measure.ts'

/** The table the latency load inserts into (bench/latency.ts). */
const LOAD_TABLE = 'public.bench'

/** One transaction as the topic's reader saw it. */
interface Seen {
  readonly commitMs: number
  visibleMs: number
  rows: number
}

/**
 * Runs `command(topic)` (the CLI writing to `topic` from `slot`) under the latency load, reads
 * the topic meanwhile, and stops the CLI once its slot is confirmed past a marker committed after
 * the load. The marker's row is left out of the figures.
 */
export async function measureKafkaLatency(
  url: string,
  admin: postgres.Sql,
  slot: string,
  label: string,
  brokers: string,
  command: (topic: string) => Command,
  reportPath: string,
  shape: LoadShape,
): Promise<LatencyResult> {
  const topic = `pgtb_bench_latency_${Date.now().toString(36)}`
  const kafka = await prepareKafka(brokers, topic)
  await createSlot(admin, slot)
  const seen = new Map<string, Seen>()
  const reader = await readCommitTimes(brokers, topic, seen)
  try {
    let stopAt: string | undefined
    const running = measure(admin, slot, command(topic), reportPath, (shape.seconds + 120) * 1000, () => stopAt)
    await waitForWalsender(admin, slot)
    const lateCommits = await generateLoad(url, shape)
    stopAt = await commitMarker(admin, 'kafka-latency')
    const measurement = await running
    const rows = loadRows(shape)
    for (let i = 0; i < 100 && countRows(seen) < rows; i++) await sleep(100)
    const latencies = [...seen.values()].map((s) => s.visibleMs - s.commitMs)
    const complete = countRows(seen) >= rows ? '' : ` (read ${countRows(seen)} of ${rows} rows)`
    return latencyResult(`${label}${complete}`, latencies, measurement, lateCommits)
  } finally {
    await reader.stop()
    await dropSlot(admin, slot)
    await kafka.cleanup()
  }
}

function countRows(seen: ReadonlyMap<string, Seen>): number {
  let rows = 0
  for (const s of seen.values()) rows += s.rows
  return rows
}

/** Reads `topic` from its start, noting per transaction (its `lsn` header) the commit time and when its last record arrived. */
async function readCommitTimes(brokers: string, topic: string, seen: Map<string, Seen>): Promise<{ stop: () => Promise<void> }> {
  const consumer = new Consumer({
    clientId: 'pgtb-bench-latency',
    groupId: `pgtb-bench-latency-${Date.now().toString(36)}`,
    bootstrapBrokers: brokers.split(','),
    // The broker answers a fetch as soon as one byte is there; this only bounds an idle wait.
    maxWaitTime: 100,
  })
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false })
  const reading = (async () => {
    for await (const message of stream) {
      const now = performance.timeOrigin + performance.now()
      const lsn = headerText(message.headers, 'lsn')
      // The load's rows only: not the marker that ends the run.
      if (lsn === undefined || headerText(message.headers, 'table_name') !== LOAD_TABLE || message.value === undefined || message.value === null) continue
      const entry = seen.get(lsn)
      if (entry) {
        entry.visibleMs = now
        entry.rows++
      } else {
        const record = JSON.parse(Buffer.from(message.value as Uint8Array).toString('utf8')) as { commit_time?: string }
        seen.set(lsn, { commitMs: Date.parse(record.commit_time ?? ''), visibleMs: now, rows: 1 })
      }
    }
  })()
  return {
    stop: async () => {
      await stream.close().catch(() => {})
      await reading.catch(() => {})
      await new Promise<void>((resolve) => consumer.close(true, () => resolve()))
    },
  }
}

function headerText(headers: Map<unknown, unknown>, name: string): string | undefined {
  for (const [key, value] of headers) if (String(key) === name) return String(value)
  return undefined
}
