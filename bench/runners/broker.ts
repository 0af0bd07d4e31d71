/**
 * @module Broker consumer: runPipeline with the Kinesis or Kafka writer (default options, default
 * record format) against the local server of scripts/kinesis.sh or scripts/kafka.sh. Stops once
 * the slot's flushed LSN reaches the job's target, i.e. once the broker accepted every record.
 */
import process from 'node:process'
import { runPipeline } from '../../src/pipeline/pipeline.ts'
import { KafkaWriter } from '../../src/writers/kafka/mod.ts'
import { KinesisWriter } from '../../src/writers/kinesis/mod.ts'
import type { StreamWriter } from '../../src/writers/writer.ts'
import { CountingFormat } from './counting-format.ts'
import { memoryUsage, nowMs, parseLsnText, readJob, selfPeakRss, writeReport, type Job } from './job.ts'

/** What the harness adds to the job for a broker consumer. */
export interface BrokerTarget {
  readonly broker: 'kinesis' | 'kafka'
  /** Kinesis: the endpoint URL; Kafka: "host:port" bootstrap servers, comma-separated. */
  readonly address: string
  /** The Kinesis stream or Kafka topic, created by the harness. */
  readonly destination: string
}

/** kinesis-local accepts any well-formed signature: stand-ins, not real keys. */
const LOCAL_CREDENTIALS = { accessKeyId: 'AKIDBENCHLOCAL', secretAccessKey: 'local-secret-not-real' }

function writerFor(target: BrokerTarget): StreamWriter {
  if (target.broker === 'kinesis') {
    return new KinesisWriter({ region: 'us-east-1', endpoint: target.address, streamName: target.destination, credentials: LOCAL_CREDENTIALS })
  }
  return new KafkaWriter({ brokers: target.address.split(','), topic: target.destination })
}

async function main(job: Job & BrokerTarget): Promise<void> {
  const target = parseLsnText(job.targetLsn)
  const format = new CountingFormat()
  const controller = new AbortController()
  let started = 0
  let finished = 0
  await runPipeline({
    postgres: { url: job.url, slot: job.slot, publication: job.publication, tables: [], createSlot: false, createPublication: false },
    writer: writerFor(job),
    format,
    signal: controller.signal,
    onStreaming: () => (started = nowMs()),
    onFlushed: (lsn) => {
      if (lsn >= target && !controller.signal.aborted) {
        finished = nowMs()
        controller.abort()
      }
    },
  })
  writeReport(job, { rows: format.rows, streamingMs: finished - started, peakRss: selfPeakRss(), memory: memoryUsage() })
}

await main(readJob() as Job & BrokerTarget)
process.exit(0)
