/**
 * @module Comparison consumer: pg-logical-replication (npm) with its pgoutput plugin and default
 * settings (it acknowledges every message), counting row changes until the slot's rows are seen.
 */
import process from 'node:process'
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication'
import { nowMs, readJob, selfPeakRss, writeReport } from './job.ts'

const ROW_TAGS = new Set(['insert', 'update', 'delete'])

const job = readJob()
const service = new LogicalReplicationService({ connectionString: job.url })
const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [job.publication] })
let rows = 0
let started = 0
const done = new Promise<number>((resolve, reject) => {
  // 'start' (replication started) is emitted but missing from the package's event typings.
  ;(service as unknown as { on(event: 'start', listener: () => void): void }).on('start', () => (started = nowMs()))
  service.on('error', reject)
  service.on('data', (_lsn: string, message: { tag: string }) => {
    if (ROW_TAGS.has(message.tag) && ++rows === job.expectedRows) resolve(nowMs())
  })
})
service.subscribe(plugin, job.slot).catch(() => {})
const finished = await done
writeReport(job, { rows, streamingMs: finished - started, peakRss: selfPeakRss() })
await service.stop().catch(() => {})
process.exit(0)
