/** @module Shared setup for integration tests: the test database, unique names, a collecting writer. */
import postgres from 'postgres'
import { skip } from '../harness.ts'
import { StreamWriter, type WriterRecord } from '../../src/writers/writer.ts'
import { runPipeline, type PipelineOptions } from '../../src/pipeline/pipeline.ts'

export const TEST_URL = globalThis.process?.env.PG_TO_BROKERS_TEST_URL ?? 'postgres://pgtb:pgtb-secret@127.0.0.1:54329/pgtb'

let counter = 0
/** A name unique to this test run (runtimes run the suite one after another on one server). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${(counter++).toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`
}

export function sqlClient(url = TEST_URL): postgres.Sql {
  return postgres(url, { max: 4, onnotice: () => {}, idle_timeout: 5 })
}

/** Keeps every published record in memory; can be told to fail. */
export class CollectingWriter extends StreamWriter {
  readonly records: WriterRecord[] = []
  failNext: Error | undefined

  override async publish(records: readonly WriterRecord[]): Promise<void> {
    if (this.failNext) throw this.failNext
    this.records.push(...records)
  }

  parsed(): Record<string, unknown>[] {
    return this.records.map((r) => JSON.parse(new TextDecoder().decode(r.data)) as Record<string, unknown>)
  }
}

/** Runs a pipeline in the background; `stop()` aborts it and waits for the clean stop. */
export function startPipeline(options: Omit<PipelineOptions, 'signal'>): { done: Promise<void>; stop: () => Promise<void> } {
  const controller = new AbortController()
  const done = runPipeline({ ...options, signal: controller.signal })
  done.catch(() => {})
  return { done, stop: async () => (controller.abort(), await done) }
}

/** Polls until `check` returns true, or fails after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/** Drops a slot if it exists (after the pipeline released it). */
export async function dropSlot(sql: postgres.Sql, slot: string): Promise<void> {
  await waitFor(async () => (await sql`select 1 from pg_replication_slots where slot_name = ${slot} and active`).length === 0, 10_000, `slot ${slot} inactive`)
  await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${slot}`
}

/** Waits until a walsender streams from the slot (an active slot alone may still be being created). */
export async function waitForStreaming(sql: postgres.Sql, slot: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    async () =>
      (
        await sql`
    select 1 from pg_replication_slots s join pg_stat_replication r on r.pid = s.active_pid
    where s.slot_name = ${slot}`
      ).length > 0,
    timeoutMs,
    `a walsender streaming slot ${slot}`,
  )
}

let testServerVersion: Promise<number> | undefined

/** The test server's server_version_num (e.g. 150008), read once per run. */
export function serverVersion(): Promise<number> {
  testServerVersion ??= (async () => {
    const sql = sqlClient()
    try {
      const [row] = await sql<{ v: string }[]>`select current_setting('server_version_num') as v`
      return Number(row!.v)
    } finally {
      await sql.end()
    }
  })()
  return testServerVersion
}

/** Ends the current test as skipped on a server older than `major`, naming the feature it needs. */
export async function requireServer(major: number, feature: string): Promise<void> {
  const version = await serverVersion()
  if (version < major * 10000) skip(`needs PostgreSQL ${major} or later for ${feature}; the test server is PostgreSQL ${Math.floor(version / 10000)}`)
}
