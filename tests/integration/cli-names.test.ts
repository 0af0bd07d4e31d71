// The renamed settings keep their old names working when the CLI streams: --format classic and its
// alias seed give the same records, and the old config key batch.maxInFlightBatches runs with a warning.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { FixtureProcess, REPO_ROOT } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitForStreaming } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
const DEPRECATION = 'batch.maxInFlightBatches is deprecated: call it batch.queueDepth'

interface Run {
  records: Record<string, unknown>[]
  stderr: string
}

/** Streams two inserted rows through the CLI with these flags and config file, then stops it. */
async function streamWith(args: string[], config: unknown): Promise<Run> {
  const sql = sqlClient()
  const table = uniqueName('names')
  const slot = uniqueName('s')
  const directory = mkdtempSync(join(tmpdir(), 'pgtb-names-'))
  try {
    const configPath = join(directory, 'config.json')
    writeFileSync(configPath, JSON.stringify(config))
    await sql.unsafe(`create table ${table} (id int primary key, name text)`)
    const run = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL }, [
      'run',
      '--config',
      configPath,
      '--slot',
      slot,
      '--publication',
      slot,
      '--tables',
      table,
      ...args,
    ])
    await waitForStreaming(sql, slot)
    await sql.unsafe(`insert into ${table} values (1, 'one'), (2, 'two')`)
    await run.waitForLine(/"values":\[2,"two"\]/)
    run.signal('SIGTERM')
    const status = await run.waitForExit()
    assertEquals(status.code, 0, `exit code (stderr: ${run.stderr})`)
    await dropSlot(sql, slot)
    return {
      records: run.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
      stderr: run.stderr,
    }
  } finally {
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql.end()
    rmSync(directory, { recursive: true, force: true })
  }
}

/** What does not change from run to run: the record's keys and its row. */
const shape = (records: Record<string, unknown>[]) =>
  records.map((r) => ({ keys: Object.keys(r).slice(0, 6), fields: r.fields, values: r.values, types: r.types, operation: r.operation }))

test('cli names: --format classic and --format seed give the same records; the old batch.maxInFlightBatches key streams with a warning', async () => {
  const classic = await streamWith(['--format', 'classic'], { batch: { maxInFlightBatches: 2 } })
  const seed = await streamWith(['--format', 'seed', '--batch-queue-depth', '2'], {})
  assertEquals(shape(classic.records)[0]?.keys, ['fields', 'values', 'types', 'table_name', 'operation', 'transaction_id'])
  assertEquals(shape(classic.records), shape(seed.records))
  assert(classic.stderr.includes(DEPRECATION), `the old name is reported: ${classic.stderr}`)
  assert(!seed.stderr.includes('deprecated'), `nothing is reported for the new names: ${seed.stderr}`)
})
