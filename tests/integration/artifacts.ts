/**
 * @module The built artifacts for the distribution tests: `npm run build` once per suite run (a
 * no-op when fresh), the CLI bundle staged away from node_modules, the command of each artifact,
 * and a small workload streamed through one of them and checked against what was committed.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { cp, mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { assert, assertEquals } from '../assert.ts'
import { FixtureProcess, REPO_ROOT, type Command } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'

export const BIN: string = join(REPO_ROOT, 'node_modules', '.bin')
/** For tests that use dist/: the first of them builds it (up to 600 s for `npm run build`), blocking meanwhile. */
export const DIST_TEST_TIMEOUT_MS = 900_000

export interface Artifact {
  readonly name: string
  readonly command: Command
  /** Why it was not built on this machine, if it was not. */
  readonly missing?: string
}

interface Built {
  /** A folder outside the repository holding a copy of the CLI bundle (no node_modules above it). */
  readonly stage: string
  readonly artifacts: readonly Artifact[]
}

let built: Promise<Built> | undefined
/** Builds dist/ once per suite run and stages the bundle where no node_modules can help it. */
export function distribution(): Promise<Built> {
  built ??= (async () => {
    const run = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 600_000 })
    if (run.status !== 0) throw new Error(`npm run build failed (exit ${run.status}):\n${run.stdout}${run.stderr}${run.error?.message ?? ''}`)
    const stage = await mkdtemp(join(tmpdir(), 'pgtb-dist-'))
    process.once('exit', () => rmSync(stage, { recursive: true, force: true }))
    await cp(join(REPO_ROOT, 'dist', 'pg-to-brokers.mjs'), join(stage, 'pg-to-brokers.mjs'))
    await cp(join(REPO_ROOT, 'dist', 'cli'), join(stage, 'cli'), { recursive: true })
    const bundle = join(stage, 'pg-to-brokers.mjs')
    const denoExecutable = join(REPO_ROOT, 'dist', 'pg-to-brokers-deno')
    return {
      stage,
      artifacts: [
        { name: 'bundle on node', command: { command: 'node', args: [bundle] } },
        { name: 'bundle on deno', command: { command: join(BIN, 'deno'), args: ['run', '-A', bundle] } },
        { name: 'bundle on bun', command: { command: join(BIN, 'bun'), args: [bundle] } },
        { name: 'bun executable', command: { command: join(REPO_ROOT, 'dist', 'pg-to-brokers-bun'), args: [] } },
        {
          name: 'deno executable',
          command: { command: denoExecutable, args: [] },
          ...(existsSync(denoExecutable) ? {} : { missing: stampNote('deno-executable') }),
        },
      ],
    }
  })()
  return built
}

function stampNote(step: string): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, 'dist', '.build', `${step}.json`), 'utf8')) as { note?: string }).note ?? 'not built'
  } catch {
    return 'not built'
  }
}

export async function artifact(name: string): Promise<Artifact> {
  return (await distribution()).artifacts.find((a) => a.name === name)!
}

/** One record as the CLI writes it (the default format), reduced to what the workload decides. */
export type Seen = [operation: string, table: string, values: unknown[], transactionId: number]

/**
 * Streams a small workload through `command` (stdout writer unless `extraArgs` pick another) and
 * checks the records against what was committed, in commit order, then a clean stop with exit 0.
 */
export async function streamWorkload(
  command: Command,
  extraArgs: readonly string[],
  records: (run: FixtureProcess) => Promise<Seen[]>,
  lastValue: string,
): Promise<void> {
  const sql = sqlClient()
  const table = uniqueName('dist')
  const slot = uniqueName('s')
  const { stage } = await distribution()
  let run: FixtureProcess | undefined
  try {
    await sql.unsafe(`create table ${table} (id bigint primary key, name text, amount numeric(12,2), tags text[])`)
    run = new FixtureProcess(
      command,
      { PG_TO_BROKERS_POSTGRES_URL: TEST_URL },
      ['run', '--slot', slot, '--publication', slot, '--tables', table, ...extraArgs],
      stage,
    )
    // Not "slot active": a slot is active while it is being created, before its consistent point, and
    // a transaction that began then is never decoded. "streaming" comes after START_REPLICATION.
    const started = run
    await waitFor(() => / info streaming /.test(started.stderr) || started.exitStatus !== undefined, 30_000, 'the "streaming" log line')
    assertEquals(run.exitStatus, undefined, `the CLI exited early (stderr: ${run.stderr})`)
    const name = `public.${table}`
    const first = await sql.begin(async (tx) => {
      await tx.unsafe(`insert into ${table} values (1, 'one', 12.50, '{a,b}'), (2, 'two', null, '{}')`)
      return Number((await tx.unsafe<{ xid: string }[]>('select txid_current()::text as xid'))[0]!.xid)
    })
    const second = await sql.begin(async (tx) => {
      await tx.unsafe(`update ${table} set name = $1 where id = 2`, [lastValue])
      await tx.unsafe(`delete from ${table} where id = 1`)
      return Number((await tx.unsafe<{ xid: string }[]>('select txid_current()::text as xid'))[0]!.xid)
    })
    const seen = await records(run)
    run.signal('SIGTERM')
    const status = await run.waitForExit(20_000)
    assertEquals(status.code, 0, `exit code (stderr: ${run.stderr})`)
    assertEquals(seen, [
      ['INSERT', name, [1, 'one', '12.50', ['a', 'b']], first],
      ['INSERT', name, [2, 'two', null, []], first],
      ['UPDATE', name, [2, lastValue, null, []], second],
      ['DELETE', name, [1], second],
    ])
    await dropSlot(sql, slot)
  } finally {
    if (run && !run.exitStatus) await run.kill()
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${slot} and not active`
    await sql.end()
  }
}

function parseRecords(text: string): Seen[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const r = JSON.parse(line) as { operation: string; table_name: string; values: unknown[]; transaction_id: number }
      return [r.operation, r.table_name, r.values, r.transaction_id]
    })
}

/** Records from the stdout writer, once the last one arrived. */
export function fromStdout(lastValue: string): (run: FixtureProcess) => Promise<Seen[]> {
  return async (run) => {
    await run.waitForLine(/"operation":"DELETE"/, 30_000)
    assert(run.stdout.includes(JSON.stringify(lastValue)), `stdout lacks the update: ${run.stdout}`)
    return parseRecords(run.stdout)
  }
}

/** Records from the file the fixture writer module appends to, once all four are there. */
export function fromFile(path: string): (run: FixtureProcess) => Promise<Seen[]> {
  return async (run) => {
    const text = async () => (existsSync(path) ? await readFile(path, 'utf8') : '')
    await waitFor(async () => (await text()).split('\n').length > 4 || run.exitStatus !== undefined, 30_000, `4 records in ${path} (stderr: ${run.stderr})`)
    return parseRecords(await text())
  }
}
