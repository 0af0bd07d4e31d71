/**
 * @module Comparison consumer: postgres.js `subscribe('*')`, counting rows. Its own code, unchanged,
 * reads and parses the stream; only the slot differs. `subscribe` always creates a temporary slot
 * of its own, so the driver it gets is wrapped: CREATE_REPLICATION_SLOT is answered with the
 * copied slot's position (0/0 = resume where the slot was confirmed) and START_REPLICATION is
 * pointed at the copied slot. As in the original, it acknowledges only when the server asks.
 */
import process from 'node:process'
import postgres from 'postgres'
import { nowMs, readJob, selfPeakRss, writeReport } from './job.ts'

// Not in the package's export map: imported by path, as the driver itself imports it.
// @ts-expect-error: the module has no type declarations.
import Subscribe from '../../node_modules/postgres/src/subscribe.js'

type Sql = ReturnType<typeof postgres>
type Factory = (options: Record<string, unknown>) => Sql

const job = readJob()
let started = 0

/** postgres() for `Subscribe`, with `unsafe` steering the replication commands to the job's slot. */
const steeredPostgres: Factory = (options) => {
  const sql = postgres(options as postgres.Options<{}>)
  const unsafe = sql.unsafe.bind(sql)
  const steered = (query: string, ...rest: unknown[]) => {
    if (query.startsWith('CREATE_REPLICATION_SLOT')) return unsafe(`SELECT '0/0' AS consistent_point`)
    if (query.startsWith('START_REPLICATION')) {
      started = nowMs()
      return unsafe(query.replace(/SLOT \S+/, `SLOT ${job.slot}`), ...(rest as []))
    }
    return unsafe(query, ...(rest as []))
  }
  return Object.assign(sql, { unsafe: steered }) as Sql
}

// As the driver does: Subscribe gets the parsed options of an instance (it connects only when used).
const parsed = postgres(job.url, { publications: job.publication }).options
const subscribe = (Subscribe as (factory: Factory, options: Record<string, unknown>) => Subscriber)(steeredPostgres, { ...parsed })
type Subscriber = ((event: string, fn: () => void) => Promise<unknown>) & { sql: Sql }

let rows = 0
const finished = await new Promise<number>((resolve, reject) => {
  subscribe('*', () => {
    if (++rows === job.expectedRows) resolve(nowMs())
  }).catch(reject)
})
writeReport(job, { rows, streamingMs: finished - started, peakRss: selfPeakRss() })
process.exit(0)
