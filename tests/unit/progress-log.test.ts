// The progress line counts what the writer made durable, once, and reports idle periods as zeros.
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import type { LogFields } from '../../src/logger.ts'
import { ProgressLog } from '../../src/pipeline/progress-log.ts'

function progressWith(positions = { confirmed: 0n, walEnd: 0n }) {
  const lines: LogFields[] = []
  const keep = (message: string, fields?: LogFields) => void (message === 'progress' && lines.push(fields ?? {}))
  const logger = { error: keep, warn: keep, info: keep, debug: keep }
  const progress = new ProgressLog(logger, { slot: 's' }, () => positions)
  return { progress, lines, positions }
}

test('progress: rows and transactions count once the writer made them durable, each once', () => {
  const { progress, lines, positions } = progressWith()
  progress.start(0)
  progress.row()
  progress.row()
  progress.commit(100n)
  progress.commit(150n) // a transaction without rows (filtered, or a heartbeat) is not counted
  progress.row()
  progress.commit(200n)
  progress.write()
  assertEquals([lines[0]!.rows, lines[0]!.transactions, lines[0]!.inFlightRows], [0, 0, 3])
  assertEquals([lines[0]!.confirmed, lines[0]!.lagBytes], [undefined, undefined], 'no position known yet')
  progress.durable(120n)
  Object.assign(positions, { confirmed: 0x1_0000_0078n, walEnd: 0x1_0000_0100n })
  progress.write()
  assertEquals(
    [lines[1]!.rows, lines[1]!.transactions, lines[1]!.inFlightRows, lines[1]!.confirmed, lines[1]!.lagBytes, lines[1]!.slot],
    [2, 1, 1, '1/78', 136, 's'],
  )
  progress.durable(200n)
  progress.durable(200n)
  progress.write()
  assertEquals([lines[2]!.rows, lines[2]!.transactions, lines[2]!.inFlightRows], [1, 1, 0])
  progress.write()
  assertEquals([lines[3]!.rows, lines[3]!.transactions, lines[3]!.rowsPerSecond], [0, 0, 0], 'idle')
})

test('progress: the lag is never negative, and a long run keeps its queue short', () => {
  const { progress, lines } = progressWith({ confirmed: 500n, walEnd: 400n })
  progress.start(0)
  for (let t = 1; t <= 5000; t++) {
    progress.row()
    progress.commit(BigInt(t))
    progress.durable(BigInt(t))
  }
  progress.write()
  assertEquals([lines[0]!.rows, lines[0]!.transactions, lines[0]!.inFlightRows, lines[0]!.lagBytes], [5000, 5000, 0, 0])
})

test('progress: a line comes every interval until stopped', async () => {
  const { progress, lines } = progressWith()
  progress.start(20)
  await new Promise((resolve) => setTimeout(resolve, 250))
  progress.stop()
  const written = lines.length
  await new Promise((resolve) => setTimeout(resolve, 100))
  assertEquals(written >= 2 && lines.length === written, true, `${written} lines, then ${lines.length}`)
})
