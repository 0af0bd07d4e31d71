/** @module The test harness as the suite relies on it: timeouts fail and the run goes on, skips count apart, seeds replay. */
import { fileURLToPath } from 'node:url'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { mulberry32 } from '../seed.ts'
import { FixtureProcess } from './process.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/harness-run.ts', import.meta.url))

async function runFixture(env: Record<string, string>): Promise<{ code: number | null; lines: string[] }> {
  const run = new FixtureProcess(FIXTURE, { PG_TO_BROKERS_TEST_TIMEOUT_MS: '600', ...env })
  const { code } = await run.waitForExit(60_000)
  return { code, lines: run.stdout.split('\n') }
}

test('harness: a timed-out test fails naming its timeout, the run goes on, skips are counted apart, and the summary has all three', async () => {
  const { code, lines } = await runFixture({})
  const line = (prefix: string) => lines.find((l) => l.startsWith(prefix))
  assertEquals(code, 1, `exit code with failures (output: ${lines.join('\n')})`)
  assert(line('ok   passes') !== undefined, 'the passing test')
  assertEquals(line('skip skips through the context'), 'skip skips through the context: no such tool here')
  assertEquals(line('skip skips through the import'), 'skip skips through the import: not on this runtime')
  assert(line('FAIL hangs past its own timeout') !== undefined, 'the hanging test fails')
  const own = lines.indexOf(line('FAIL hangs past its own timeout')!)
  assert(lines[own + 1]!.includes('timed out after 200 ms'), `its own timeout named: ${lines[own + 1]}`)
  assertEquals(line('signal aborted'), 'signal aborted: test timed out after 200 ms', 'the test is told through its signal')
  const byDefault = lines.indexOf(line('FAIL hangs past the default timeout')!)
  assert(byDefault > 0 && lines[byDefault + 1]!.includes('timed out after 600 ms'), `PG_TO_BROKERS_TEST_TIMEOUT_MS sets the default: ${lines[byDefault + 1]}`)
  assert(line('ok   runs after the timeouts') !== undefined, 'the run went on')
  assertEquals(
    lines.filter((l) => /^\d+ passed/.test(l)),
    ['2 passed, 3 failed, 2 skipped'],
    'one summary line',
  )
})

test('harness: a failing test prints its seed, and PG_TO_BROKERS_TEST_SEED replays it', async () => {
  const first = await runFixture({})
  const failed = first.lines.findIndex((l) => l.startsWith('FAIL fails with its seed'))
  assert(failed > 0, `the seeded test fails: ${first.lines.join('\n')}`)
  const seedLine = first.lines.slice(failed).find((l) => l.trim().startsWith('seed '))
  const seed = /^seed (\d+): replay with PG_TO_BROKERS_TEST_SEED=(\d+)$/.exec(seedLine?.trim() ?? '')
  assert(seed !== null && seed[1] === seed[2], `the seed is printed under the failure: ${first.lines.slice(failed, failed + 4).join('\n')}`)
  const replay = await runFixture({ PG_TO_BROKERS_TEST_SEED: seed[1]! })
  const random = mulberry32(Number(seed[1]))
  const expected = `first numbers: ${random()} ${random()}`
  assertEquals(
    first.lines.find((l) => l.startsWith('first numbers')),
    expected,
    'the seed printed is the one the scenario used',
  )
  assertEquals(
    replay.lines.find((l) => l.startsWith('first numbers')),
    expected,
    'the replay draws the same numbers',
  )
  const rejected = await runFixture({ PG_TO_BROKERS_TEST_SEED: 'abc' })
  assert(
    rejected.lines.some((l) => l.includes('PG_TO_BROKERS_TEST_SEED="abc" is not a seed')),
    'a bad seed is a clear error',
  )
})
