/**
 * @module The fault campaign: the CLI streams a throwaway cluster (through PgProxy) to a file
 * while a continuous workload runs, and faults are injected one after another — kill -9 of the
 * CLI (then a new one starts on the slot), cutting every connection, stalling them, and a fast
 * restart of PostgreSQL. After a cut or a restart the same process must reconnect by itself.
 * Finally a last clean stop, and the verifier: 0 missing, order kept, duplicates identical.
 */
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { describeExit, FixtureProcess, REPO_ROOT, sleep } from '../process.ts'
import { startFaultCluster } from './cluster.ts'
import { PgProxy } from './pg-proxy.ts'
import { verifyOutput, type Verdict } from './verify.ts'
import { Workload } from './workload.ts'
import { mulberry32, testSeed } from '../../seed.ts'

export type FaultKind = 'kill' | 'cut' | 'stall' | 'restart'

/** Share of each fault in a campaign (every kind at least once). */
const WEIGHTS: Readonly<Record<FaultKind, number>> = { kill: 0.25, cut: 0.35, stall: 0.25, restart: 0.15 }
const CLI = `${REPO_ROOT}src/cli/entry.ts`
const STREAMING = /\binfo streaming\b/g
const RECOVERY_TIMEOUT_MS = 45_000

export interface CampaignOptions {
  readonly faults: number
  readonly seed?: number
  /** Pause between faults, ms. */
  readonly gapMs?: readonly [number, number]
  readonly log?: (line: string) => void
  /** One line per fault (kind and recovery time), for diagnosis. */
  readonly trace?: (line: string) => void
}

export interface Tally extends Verdict {
  readonly seed: number
  readonly faults: Readonly<Record<FaultKind, number>>
  /** Times a CLI process started streaming again by itself (after cuts and restarts). */
  readonly reconnects: number
  readonly processes: number
  readonly transactions: number
  readonly workloadFailures: number
  readonly ms: number
}

/** Runs one campaign; throws (with the seed in the message) on any violation. */
export async function runCampaign(options: CampaignOptions): Promise<Tally> {
  const seed = options.seed ?? testSeed()
  const random = mulberry32(seed)
  const started = Date.now()
  // A fast shutdown waits for each logical walsender until its client confirms the sent position,
  // or until wal_sender_timeout (60 s by default): a short timeout keeps each restart short.
  const cluster = await startFaultCluster('pg-faults', ['wal_sender_timeout=5s'])
  const proxy = await PgProxy.start(cluster.port)
  const sql = postgres(cluster.url, { max: 1, onnotice: () => {}, connect_timeout: 5 })
  const output = join(tmpdir(), `pgtb-faults-${process.pid}-${seed}.jsonl`)
  const tool = new Tool(`postgres://postgres@127.0.0.1:${proxy.port}/postgres`, output, random)
  const workload = new Workload(cluster.url, 'fault_rows', seed ^ 0x9e3779b9)
  const counts: Record<FaultKind, number> = { kill: 0, cut: 0, stall: 0, restart: 0 }
  try {
    await sql.unsafe('create table fault_rows (id int primary key, v int not null); create publication fault_pub for table fault_rows')
    await sql`select pg_create_logical_replication_slot('fault_slot', 'pgoutput')`
    await tool.spawn()
    workload.start()
    for (const kind of schedule(options.faults, random)) {
      const [low, high] = options.gapMs ?? [200, 900]
      await sleep(low + random() * (high - low))
      tool.assertRunning()
      const at = Date.now()
      await inject(kind, { tool, proxy, sql: withRetry(sql), random, restart: () => cluster.restart() })
      counts[kind]++
      options.trace?.(`${kind} recovered in ${Date.now() - at} ms`)
      const done = Object.values(counts).reduce((a, b) => a + b, 0)
      if (done % 25 === 0) options.log?.(`${done} faults so far (${JSON.stringify(counts)}), ${workload.transactions} transactions`)
    }
    await workload.stop()
    await catchUp(sql, tool)
    await tool.stop()
    const committed = new Map((await sql<{ id: number; v: number }[]>`select id, v from fault_rows`).map((r) => [r.id, r.v] as const))
    const verdict = verifyOutput(output, committed)
    if (verdict.missing > 0) throw new Error(`${verdict.missing} committed changes missing from ${output}`)
    rmSync(output, { force: true })
    return {
      ...verdict,
      seed,
      faults: counts,
      reconnects: tool.reconnects,
      processes: tool.spawned,
      transactions: workload.transactions,
      workloadFailures: workload.failures,
      ms: Date.now() - started,
    }
  } catch (error) {
    throw new Error(
      `fault campaign (seed ${seed}) failed after ${JSON.stringify(counts)}: ${(error as Error).message}\n` +
        `  tool stderr tail: ${tool.stderrTail()}\n  output kept: ${output}`,
      { cause: error },
    )
  } finally {
    await workload.stop().catch(() => {})
    await tool.kill()
    await sql.end({ timeout: 1 }).catch(() => {})
    await proxy.close()
    cluster.stop()
  }
}

/** Each kind in proportion to its weight, at least once, in a seeded random order. */
function schedule(total: number, random: () => number): FaultKind[] {
  const kinds = Object.keys(WEIGHTS) as FaultKind[]
  const list = kinds.flatMap((kind) => Array<FaultKind>(Math.max(1, Math.round(total * WEIGHTS[kind]))).fill(kind))
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[list[i], list[j]] = [list[j]!, list[i]!]
  }
  return list
}

interface FaultContext {
  readonly tool: Tool
  readonly proxy: PgProxy
  readonly sql: <T>(query: (sql: postgres.Sql) => Promise<T>) => Promise<T>
  readonly random: () => number
  readonly restart: () => void
}

async function inject(kind: FaultKind, ctx: FaultContext): Promise<void> {
  const before = ctx.tool.streamingCount()
  switch (kind) {
    case 'kill':
      await ctx.tool.kill()
      await waitUntil(
        async () => ctx.sql(async (sql) => (await sql`select active from pg_replication_slots where slot_name = 'fault_slot'`)[0]?.active === false),
        'the slot to be released after kill -9',
      )
      return ctx.tool.spawn()
    case 'cut':
      ctx.proxy.cutAll()
      return ctx.tool.waitForStreaming(before + 1)
    case 'stall':
      return ctx.proxy.stall(200 + Math.floor(ctx.random() * 1800))
    case 'restart':
      ctx.restart()
      return ctx.tool.waitForStreaming(before + 1)
  }
}

/** The CLI process streaming the slot (one at a time; replaced after each kill -9). */
class Tool {
  spawned = 0
  reconnects = 0
  #process: FixtureProcess | undefined
  #earlierStderr = ''

  constructor(
    private readonly url: string,
    private readonly output: string,
    private readonly random: () => number,
  ) {}

  async spawn(): Promise<void> {
    const batch = [10, 100, 1000][Math.floor(this.random() * 3)]!
    this.#process = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: this.url }, [
      'run',
      '--slot',
      'fault_slot',
      '--publication',
      'fault_pub',
      '--no-create-slot',
      '--file',
      this.output,
      '--batch-size',
      String(batch),
    ])
    this.spawned++
    await this.waitForStreaming(1)
  }

  streamingCount(): number {
    return this.#process?.stderr.match(STREAMING)?.length ?? 0
  }

  async waitForStreaming(count: number): Promise<void> {
    await waitUntil(() => (this.assertRunning(), this.streamingCount() >= count), `the CLI to stream (time ${count})`)
    if (count > 1) this.reconnects++
  }

  assertRunning(): void {
    const p = this.#process
    if (p?.exitStatus) throw new Error(`the CLI (PID ${p.pid}) exited by itself (${describeExit(p.exitStatus)})`)
  }

  async kill(): Promise<void> {
    const p = this.#process
    if (!p || p.exitStatus) return
    await p.kill()
    this.#earlierStderr = p.stderr
  }

  async stop(): Promise<void> {
    const p = this.#process!
    p.signal('SIGTERM')
    const status = await p.waitForExit(20_000)
    if (status.code !== 0) throw new Error(`the last CLI did not stop cleanly (${describeExit(status)})`)
  }

  stderrTail(): string {
    return (this.#process?.stderr || this.#earlierStderr).trim().split('\n').slice(-8).join('\n    ')
  }
}

/** Waits until the slot confirmed everything the workload wrote (with a little WAL so keepalives carry it). */
async function catchUp(sql: postgres.Sql, tool: Tool): Promise<void> {
  const [{ target }] = (await sql`select pg_current_wal_insert_lsn()::text as target`) as unknown as [{ target: string }]
  await waitUntil(async () => {
    tool.assertRunning()
    await sql`select txid_current()`
    const [row] = await sql`select confirmed_flush_lsn >= ${target}::pg_lsn as done from pg_replication_slots where slot_name = 'fault_slot'`
    return row?.done === true
  }, `the slot to confirm up to ${target}`)
}

/** Queries of the harness itself ride out a restarting server. */
function withRetry(sql: postgres.Sql): FaultContext['sql'] {
  return async (query) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await query(sql)
      } catch (error) {
        if (attempt >= 50) throw error
        await sleep(200)
      }
    }
  }
}

async function waitUntil(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + RECOVERY_TIMEOUT_MS
  while (Date.now() < deadline) {
    if (await check()) return
    await sleep(25)
  }
  throw new Error(`timed out after ${RECOVERY_TIMEOUT_MS} ms waiting for ${what}`)
}
