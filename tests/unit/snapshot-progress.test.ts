// Snapshot progress: the terminal bar (redrawn at most 4 times a second) and the log lines (every 10 s, one per finished table), on a fake clock.
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import type { LogFields, Logger } from '../../src/logger.ts'
import { createProgressDisplay, type ProgressOutput } from '../../src/snapshot/progress-display.ts'

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let at = start
  return { now: () => at, advance: (ms) => void (at += ms) }
}

/** Everything written to the would-be stderr, and whether it claims to be a terminal. */
function capture(terminal: boolean): ProgressOutput & { text: string[] } {
  const text: string[] = []
  return { text, write: (chunk) => void text.push(chunk), isTerminal: () => terminal }
}

function recordingLogger(): Logger & { lines: { message: string; fields: LogFields }[] } {
  const lines: { message: string; fields: LogFields }[] = []
  const log = (message: string, fields: LogFields = {}) => void lines.push({ message, fields })
  return { lines, error: log, warn: log, info: log, debug: log }
}

test('progress bar: rows, estimate, percent, rate and time left on one line redrawn with \\r, at most 4 times a second', () => {
  const clock = fakeClock()
  const out = capture(true)
  const logger = recordingLogger()
  const display = createProgressDisplay('auto', logger, clock.now, out)
  display.tableStarted('public.orders', 10_000)
  assertEquals(out.text, ['\rpublic.orders [--------------------] 0/10,000 rows 0%\x1b[K'])
  clock.advance(1000)
  display.rows('public.orders', 2500)
  assertEquals(out.text.at(-1), '\rpublic.orders [#####---------------] 2,500/10,000 rows 25% 2,500 rows/s ETA 3s\x1b[K')
  // Within 250 ms of the last draw nothing is written, however many rows arrive.
  const drawn = out.text.length
  for (let i = 0; i < 10; i++) {
    clock.advance(20)
    display.rows('public.orders', 100)
  }
  assertEquals(out.text.length, drawn, 'redrawn more than 4 times a second')
  clock.advance(50)
  display.rows('public.orders', 300)
  assertEquals(out.text.length, drawn + 1)
  assertEquals(out.text.at(-1), '\rpublic.orders [#######-------------] 3,800/10,000 rows 38% 3,040 rows/s ETA 2s\x1b[K')
  clock.advance(2000)
  display.rows('public.orders', 6200)
  display.tableDone('public.orders')
  assertEquals(out.text.at(-1), '\rpublic.orders 10,000 rows in 3s (3,077 rows/s)\x1b[K\n')
  display.close()
  assertEquals(out.text.at(-1), '\rpublic.orders 10,000 rows in 3s (3,077 rows/s)\x1b[K\n', 'close adds no second line end')
  assertEquals(logger.lines, [], 'a bar logs nothing')
  assert(
    out.text.every((chunk) => chunk.startsWith('\r')),
    'every draw starts at the line start',
  )
})

test('progress bar: a table larger than its estimate shows 99% and no time left; no estimate shows rows and rate only', () => {
  const clock = fakeClock()
  const out = capture(false)
  const display = createProgressDisplay('bar', recordingLogger(), clock.now, out)
  display.tableStarted('a', 100)
  display.tableStarted('b', -1)
  clock.advance(2000)
  display.rows('a', 150)
  assertEquals(out.text.at(-1), '\ra [###################-] 150/100 rows 99% 75 rows/s | b 0 rows 0 rows/s\x1b[K')
  clock.advance(300)
  display.rows('b', 4600)
  assertEquals(out.text.at(-1), '\ra [###################-] 150/100 rows 99% 65 rows/s | b 4,600 rows 2,000 rows/s\x1b[K')
  display.tableDone('a')
  assertEquals(out.text.slice(-2), ['\ra 150 rows in 2s (65 rows/s)\x1b[K\n', '\rb 4,600 rows 2,000 rows/s\x1b[K'])
  display.close()
  assertEquals(out.text.at(-1), '\n', 'close ends the bar line')
})

test('progress bar: a resumed table counts the rows done before, but only this run in its rate; hours in the time left', () => {
  const clock = fakeClock()
  const out = capture(true)
  const display = createProgressDisplay('auto', recordingLogger(), clock.now, out)
  display.tableStarted('big', 10_000_000, 1_000_000)
  clock.advance(10_000)
  display.rows('big', 20_000)
  assertEquals(out.text.at(-1), '\rbig [##------------------] 1,020,000/10,000,000 rows 10% 2,000 rows/s ETA 1h14m\x1b[K')
})

test('progress lines: not a terminal gives an info line per table start, every 10 s while rows arrive, and at the end', () => {
  const clock = fakeClock()
  const out = capture(false)
  const logger = recordingLogger()
  const display = createProgressDisplay('auto', logger, clock.now, out)
  display.tableStarted('public.orders', 50_000)
  for (let second = 1; second <= 25; second++) {
    clock.advance(1000)
    display.rows('public.orders', 1000)
  }
  clock.advance(500)
  display.rows('public.orders', 500)
  display.tableDone('public.orders')
  display.close()
  assertEquals(out.text, [], 'lines go to the logger, never the bar output')
  assertEquals(
    logger.lines.map((line) => line.message),
    [
      'snapshot of table started',
      'snapshot progress: public.orders [####----------------] 10,000/50,000 rows 20% 1,000 rows/s ETA 40s',
      'snapshot progress: public.orders [########------------] 20,000/50,000 rows 40% 1,000 rows/s ETA 30s',
      'snapshot of table done: public.orders 25,500 rows in 26s (1,000 rows/s)',
    ],
  )
  assertEquals(logger.lines[0]!.fields, { table: 'public.orders', rowsDone: undefined, rowsEstimate: 50_000 })
  assertEquals(logger.lines.at(-1)!.fields, { table: 'public.orders', rows: 25_500 })
})

test('progress: "lines" logs even on a terminal; "off" shows nothing anywhere', () => {
  const clock = fakeClock()
  const out = capture(true)
  const logger = recordingLogger()
  const lines = createProgressDisplay('lines', logger, clock.now, out)
  lines.tableStarted('t', 10)
  lines.tableDone('t')
  assertEquals(logger.lines.length, 2)
  assertEquals(out.text, [])
  const quiet = recordingLogger()
  const off = createProgressDisplay('off', quiet, clock.now, out)
  off.tableStarted('t', 10)
  clock.advance(60_000)
  off.rows('t', 10)
  off.tableDone('t')
  off.close()
  assertEquals([quiet.lines, out.text], [[], []])
})
