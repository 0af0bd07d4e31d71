/**
 * The CLI's logs as an operator reads them: JSON lines (--log-format json) that parse and carry
 * time, level, message and fields; the periodic progress line, during a workload and when idle;
 * bad values as configuration errors.
 */
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { FixtureProcess, REPO_ROOT } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
const PASSWORD = new URL(TEST_URL).password

interface JsonLine {
  readonly time: string
  readonly level: string
  readonly message: string
  readonly [field: string]: unknown
}

function cli(args: string[], env: Record<string, string> = {}): FixtureProcess {
  return new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL, ...env }, args)
}

/** Every stderr line, parsed; a line that is not one JSON object fails the test. */
function jsonLines(stderr: string): JsonLine[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(line)
      } catch {
        throw new Error(`stderr line is not JSON: ${line}`)
      }
      assert(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed), `not an object: ${line}`)
      const entry = parsed as JsonLine
      assert(!Number.isNaN(Date.parse(entry.time)) && entry.time.endsWith('Z'), `time: ${line}`)
      assert(['error', 'warn', 'info', 'debug'].includes(entry.level), `level: ${line}`)
      assert(typeof entry.message === 'string' && entry.message !== '', `message: ${line}`)
      return entry
    })
}

const progressLines = (stderr: string) => jsonLines(stderr).filter((line) => line.message === 'progress')

test('logs: --log-format json writes one object per line with time, level, message and fields; progress every second counts each delivered row and transaction once, and says rows=0 when idle', async () => {
  const sql = sqlClient()
  const table = uniqueName('logs')
  const slot = uniqueName('s')
  const run = cli(['run', '--slot', slot, '--publication', slot, '--tables', table, '--log-format', 'json', '--log-progress-seconds', '1'])
  try {
    await sql.unsafe(`create table ${table} (id int primary key, name text)`)
    await waitForStreaming(sql, slot)
    // Idle first: lines come anyway, with nothing delivered.
    await waitFor(() => progressLines(run.stderr).length >= 2, 20_000, 'two progress lines while idle')
    for (const line of progressLines(run.stderr)) assertEquals([line.rows, line.transactions, line.inFlightRows], [0, 0, 0], JSON.stringify(line))
    const transactions = 20
    const rowsEach = 50
    for (let t = 0; t < transactions; t++) {
      await sql.unsafe(`insert into ${table} select g, 'row ' || g from generate_series(${t * rowsEach + 1}, ${(t + 1) * rowsEach}) g`)
    }
    const total = transactions * rowsEach
    await waitFor(() => run.stdout.split('\n').filter((l) => l !== '').length >= total, 30_000, `${total} records on stdout`)
    // Once everything is delivered, a line reports the last of it; the next ones are idle again.
    const delivered = () => progressLines(run.stderr).reduce((sum, line) => sum + Number(line.rows), 0)
    await waitFor(() => delivered() >= total, 20_000, 'progress lines adding up to every row')
    const seen = progressLines(run.stderr).length
    await waitFor(() => progressLines(run.stderr).length >= seen + 2, 20_000, 'two more progress lines')
    const lines = progressLines(run.stderr)
    assertEquals(delivered(), total, 'each row counted once')
    assertEquals(
      lines.reduce((sum, line) => sum + Number(line.transactions), 0),
      transactions,
      'each transaction counted once',
    )
    const busy = lines.filter((line) => Number(line.rows) > 0)
    assert(busy.length > 0 && busy.every((line) => Number(line.rowsPerSecond) > 0), 'a rate where rows were delivered')
    assertEquals([lines.at(-1)!.rows, lines.at(-1)!.transactions, lines.at(-1)!.rowsPerSecond], [0, 0, 0], 'idle again')
    for (const line of lines) {
      assertEquals(line.level, 'info')
      assertEquals(line.slot, slot)
      assert(/^[0-9A-F]+\/[0-9A-F]+$/.test(String(line.confirmed)), `confirmed LSN: ${JSON.stringify(line)}`)
      assert(typeof line.lagBytes === 'number' && line.lagBytes >= 0, `lagBytes: ${JSON.stringify(line)}`)
    }
    // Successive lines are about a second apart (loosely: the machine is shared).
    const gaps = lines.slice(1).map((line, i) => Date.parse(line.time) - Date.parse(lines[i]!.time))
    assert(
      gaps.every((gap) => gap >= 500 && gap <= 5_000),
      `gaps ${gaps.join(', ')} ms`,
    )
    // Other events carry their fields as keys of their own.
    const streaming = jsonLines(run.stderr).find((line) => line.message === 'streaming')
    assertEquals([streaming?.slot, streaming?.publication], [slot, slot])
    run.signal('SIGTERM')
    assertEquals((await run.waitForExit()).code, 0, `exit code (stderr: ${run.stderr})`)
    const stopped = jsonLines(run.stderr).find((line) => line.message === 'stopped')
    assert(typeof stopped?.confirmed === 'string', 'the stop line has its confirmed position')
    assert(!run.stderr.includes(PASSWORD), 'the password appeared in the logs')
    await dropSlot(sql, slot)
  } finally {
    run.signal('SIGTERM')
    await run.exited
    await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${slot} and not active`.catch(() => {})
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql.end()
  }
})

test('logs: text is the default format; --log-progress-seconds 0 writes no progress line', async () => {
  const sql = sqlClient()
  const table = uniqueName('logs')
  const slot = uniqueName('s')
  const run = cli(['run', '--slot', slot, '--publication', slot, '--tables', table], { PG_TO_BROKERS_LOG_PROGRESS_SECONDS: '0' })
  try {
    await sql.unsafe(`create table ${table} (id int primary key)`)
    await waitForStreaming(sql, slot)
    await sql.unsafe(`insert into ${table} values (1)`)
    await run.waitForLine(/"values":\[1\]/)
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    run.signal('SIGTERM')
    assertEquals((await run.waitForExit()).code, 0, `exit code (stderr: ${run.stderr})`)
    const lines = run.stderr.split('\n').filter((line) => line !== '')
    const streaming = lines.find((line) => / info streaming /.test(line))
    assert(streaming !== undefined && /^\d{4}-\d\d-\d\dT[\d:.]+Z info streaming slot=/.test(streaming), `text line: ${streaming}`)
    assert(!lines.some((line) => line.includes(' progress ')), `no progress line: ${run.stderr}`)
    await dropSlot(sql, slot)
  } finally {
    run.signal('SIGTERM')
    await run.exited
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql.end()
  }
})

test('logs: an unknown log format, a negative progress interval or heartbeat are configuration errors (exit 2) naming the setting', async () => {
  const cases: [string[], Record<string, string>, string][] = [
    [['--log-format', 'xml'], {}, 'logFormat: expected "text" or "json", got "xml"'],
    [[], { PG_TO_BROKERS_LOG_FORMAT: 'yaml' }, 'logFormat: expected "text" or "json", got "yaml"'],
    [['--log-progress-seconds', '-1'], {}, 'logProgressSeconds: expected an integer from 0 to 86400, got -1'],
    [['--log-progress-seconds', 'often'], {}, 'logProgressSeconds: expected an integer from 0 to 86400, got "often"'],
    [['--heartbeat-seconds', '-5'], {}, 'postgres.heartbeatSeconds: expected an integer from 0 to 86400, got -5'],
    [[], { PG_TO_BROKERS_HEARTBEAT_SECONDS: '1.5' }, 'postgres.heartbeatSeconds: expected an integer from 0 to 86400, got 1.5'],
  ]
  for (const [args, env, message] of cases) {
    const run = cli(['run', '--slot', uniqueName('s'), ...args], env)
    const status = await run.waitForExit(30_000)
    assertEquals(status.code, 2, `exit code for ${JSON.stringify({ args, env })} (stderr: ${run.stderr.trim()})`)
    assert(run.stderr.includes(message), `stderr ${JSON.stringify(run.stderr.trim())} should contain ${JSON.stringify(message)}`)
  }
})
