// The CLI's own outputs, as a user runs it: stdout into a pipe whose reader goes away, the file
// writer's new file (mode 0600 whatever the umask), and a remote writer module refused without consent.
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { FixtureProcess, REPO_ROOT, scriptCommand } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
/** Printed on stderr by the shell once `head` has exited, so the test knows the reader is gone. */
const READER_GONE = 'reader-gone'

/** The CLI run through `bash -c SCRIPT`, the CLI's command line being "$@" inside the script. */
function cliInShell(script: string, args: string[], env: Record<string, string> = {}): FixtureProcess {
  const { command, args: runtimeArgs } = scriptCommand(CLI)
  return new FixtureProcess(
    { command: 'bash', args: ['-c', script, 'bash', command, ...runtimeArgs, ...args] },
    { PG_TO_BROKERS_POSTGRES_URL: TEST_URL, ...env },
  )
}

test('cli output: stdout into "| head -n 1" stops with one line on stderr, a non-zero exit, and nothing confirmed past what was written', async () => {
  const sql = sqlClient()
  const table = uniqueName('epipe')
  const slot = uniqueName('s')
  try {
    await sql.unsafe(`create table ${table} (id int primary key)`)
    // The CLI's exit status is the pipeline's first; head's exit is announced on stderr.
    const run = cliInShell(`"$@" | { head -n 1; echo ${READER_GONE} >&2; }; exit "\${PIPESTATUS[0]}"`, [
      'run',
      '--slot',
      slot,
      '--publication',
      slot,
      '--tables',
      table,
      '--log-level',
      'error',
    ])
    await waitForStreaming(sql, slot, 30_000)
    await sql.unsafe(`insert into ${table} values (1)`)
    const first = JSON.parse(await run.waitForLine(/"operation":"INSERT"/, 30_000)) as { lsn: string; values: unknown[] }
    assertEquals(first.values, [1])
    await waitFor(() => run.stderr.includes(READER_GONE), 30_000, 'head to exit')
    // Every change committed from now on is written after the reader left: none may be confirmed.
    await sql.unsafe(`insert into ${table} values (2)`)
    const [afterInsert] = await sql<{ lsn: string }[]>`select pg_current_wal_insert_lsn()::text as lsn`
    for (let id = 3; run.exitStatus === undefined && id < 60; id++) {
      await sql.unsafe(`insert into ${table} values (${id})`)
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    const status = await run.waitForExit(30_000)
    assert(status.code !== 0 && status.code !== null, `non-zero exit, got ${JSON.stringify(status)} (stderr: ${run.stderr})`)
    const lines = run.stderr.split('\n').filter((line) => line !== '' && line !== READER_GONE)
    assertEquals(lines.length, 1, `one line on stderr, got: ${run.stderr}`)
    assert(/ error stdout closed \(EPIPE\): stopping; the slot is confirmed only up to what was written/.test(lines[0]!), lines[0]!)
    const [row] = await sql<{ held: boolean; confirmed: string }[]>`
      select confirmed_flush_lsn < ${afterInsert!.lsn}::pg_lsn as held, confirmed_flush_lsn::text as confirmed
      from pg_replication_slots where slot_name = ${slot}`
    assert(row?.held === true, `the slot (${row?.confirmed}) stays before the end of the first commit after the reader left (${afterInsert!.lsn})`)
    await dropSlot(sql, slot)
  } finally {
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql.end()
  }
})

test('cli output: the file writer creates its file with mode 0600 under umask 022; an existing file keeps its mode', async () => {
  const sql = sqlClient()
  const table = uniqueName('fmode')
  const slot = uniqueName('s')
  const directory = mkdtempSync(join(tmpdir(), 'pgtb-mode-'))
  const existing = join(directory, 'existing.jsonl')
  try {
    await sql.unsafe(`create table ${table} (id int primary key)`)
    writeFileSync(existing, '')
    chmodSync(existing, 0o644)
    for (const [path, mode] of [
      [join(directory, 'changes.jsonl'), 0o600],
      [existing, 0o644],
    ] as const) {
      const run = cliInShell('umask 022; exec "$@"', ['run', '--slot', slot, '--publication', slot, '--tables', table, '--file', path])
      await waitForStreaming(sql, slot, 30_000)
      await sql.unsafe(`insert into ${table} values (${mode})`)
      await waitFor(() => readFileSync(path, 'utf8').includes(`"values":[${mode}]`), 30_000, `the row in ${path}`)
      run.signal('SIGTERM')
      assertEquals((await run.waitForExit(30_000)).code, 0, `exit code (stderr: ${run.stderr})`)
      assertEquals((statSync(path).mode & 0o777).toString(8), mode.toString(8), `mode of ${path}`)
    }
    await dropSlot(sql, slot)
  } finally {
    rmSync(directory, { recursive: true, force: true })
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql.end()
  }
})

test('cli output: a remote writer module without --allow-remote-writer-module is a configuration error (exit 2) saying why', async () => {
  const run = cliInShell('exec "$@"', ['run', '--slot', uniqueName('s'), '--writer-module', 'https://example.invalid/writer.mjs'])
  const status = await run.waitForExit(30_000)
  assertEquals(status.code, 2, `exit code (stderr: ${run.stderr})`)
  assert(run.stderr.includes('writer.path: "https://example.invalid/writer.mjs" is a remote module: its code is fetched and run'), run.stderr)
  assert(run.stderr.includes('--allow-remote-writer-module'), run.stderr)
})
