// Lag alarm settings (flags, environment, file, bad values), the commit clock behind the lag in seconds, and the once-per-crossing warnings.
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import { ENV, loadConfig } from '../../src/config/load.ts'
import { parseArgs } from '../../src/cli/args.ts'
import { CommitClock } from '../../src/ops/commit-clock.ts'
import { SlotMonitor } from '../../src/ops/slot-monitor.ts'
import type { SlotSample } from '../../src/ops/slot-sample.ts'
import type { Logger } from '../../src/logger.ts'
import { configIssues } from './config-support.ts'

const URL = 'postgres://u:secret@127.0.0.1:5432/app'
const load = (sources: Partial<Parameters<typeof loadConfig>[0]>) => loadConfig({ env: { [ENV.url]: URL }, argv: [], ...sources })
/** Microseconds since 2000-01-01 for a Unix time in ms, as pgoutput sends commit times. */
const pgTime = (unixMs: number) => BigInt(unixMs - 946_684_800_000) * 1000n

test('config: lag alarms default to 1 GiB, 300 s and a poll every 10 s; flags beat the environment, which beats the file', () => {
  assertEquals(load({}).lag, { warnBytes: 1073741824, warnSeconds: 300, pollSeconds: 10 })
  const file = { fileText: JSON.stringify({ lag: { warnBytes: 10, warnSeconds: 20, pollSeconds: 30 } }), filePath: 'c.json' }
  assertEquals(load(file).lag, { warnBytes: 10, warnSeconds: 20, pollSeconds: 30 })
  const env = { [ENV.url]: URL, [ENV.lagWarnBytes]: '11', [ENV.lagWarnSeconds]: '21', [ENV.lagPollSeconds]: '31' }
  assertEquals(load({ ...file, env }).lag, { warnBytes: 11, warnSeconds: 21, pollSeconds: 31 })
  const argv = ['--lag-warn-bytes', '12', '--lag-warn-seconds=22', '--lag-poll-seconds', '32']
  assertEquals(load({ ...file, env, argv }).lag, { warnBytes: 12, warnSeconds: 22, pollSeconds: 32 })
})

test('config: an invalid lag threshold or poll interval is a configuration error naming the field', () => {
  assertEquals(
    configIssues(() => load({ argv: ['--lag-warn-bytes', '0'] })),
    ['lag.warnBytes: expected an integer from 1 to 1125899906842624, got 0'],
  )
  assertEquals(
    configIssues(() => load({ env: { [ENV.url]: URL, [ENV.lagWarnSeconds]: '1.5' } })),
    ['lag.warnSeconds: expected an integer from 1 to 604800, got 1.5'],
  )
  assertEquals(
    configIssues(() => load({ argv: ['--lag-poll-seconds', '3601'] })),
    ['lag.pollSeconds: expected an integer from 1 to 3600, got 3601'],
  )
  assertEquals(configIssues(() => load({ fileText: '{"lag": {"warnByte": 1}}', filePath: 'c.json' })).length, 1)
})

test('args: status takes --json; --json elsewhere is a problem', () => {
  assertEquals(parseArgs(['status', '--json', '--slot', 'a']), { command: 'status', flags: { postgres: { slot: 'a' } }, status: { json: true } })
  assertEquals(parseArgs(['status']), { command: 'status', flags: {}, status: { json: false } })
  assertEquals(
    configIssues(() => parseArgs(['run', '--json'])),
    ['--json belongs to the status command (pg-to-brokers status --json)'],
  )
})

test('commit clock: the age of the oldest transaction read and not delivered; 0 once all is delivered', () => {
  const clock = new CommitClock()
  const t0 = Date.UTC(2026, 0, 1)
  assertEquals(clock.lagSeconds(t0), 0)
  clock.change(pgTime(t0))
  clock.commit(100n)
  clock.change(pgTime(t0 + 5000))
  clock.change(pgTime(t0 + 5000))
  clock.commit(200n)
  assertEquals(clock.lagSeconds(t0 + 7000), 7)
  clock.flushed(150n)
  assertEquals(clock.lagSeconds(t0 + 7000), 2)
  clock.flushed(200n)
  assertEquals(clock.lagSeconds(t0 + 60_000), 0, 'nothing waits: an idle database is not behind')
  // A transaction without delivered changes (only a commit) does not wait.
  clock.commit(300n)
  assertEquals(clock.lagSeconds(t0 + 60_000), 0)
  // Many transactions, delivered in steps: the queue keeps the oldest one waiting.
  for (let i = 1; i <= 500; i++) clock.change(pgTime(t0 + i * 1000)), clock.commit(BigInt(1000 + i))
  clock.flushed(1300n)
  assertEquals(clock.lagSeconds(t0 + 400_000), 99)
  clock.flushed(1500n)
  assertEquals(clock.lagSeconds(t0 + 400_000), 0)
})

test('slot monitor: warns once per crossing, says when the lag is back under, and turns wal_status lost (not a missing slot) into slot_lost', async () => {
  const lines: string[] = []
  const logger: Logger = { error: () => {}, debug: () => {}, warn: (m) => void lines.push(`warn ${m}`), info: (m) => void lines.push(`info ${m}`) }
  const samples: SlotSample[] = []
  let next: SlotSample | undefined
  let seconds = 0
  const monitor = new SlotMonitor({
    slot: 's',
    alarms: { warnBytes: 100, warnSeconds: 10, pollSeconds: 1 },
    read: async () => next,
    lagSeconds: () => seconds,
    logger,
    onSample: (sample) => void samples.push(sample),
  })
  // The byte alarm looks at the WAL the slot retains, which a lag of 0 (a keepalive confirmed up to a waiting commit) can hide.
  const sample = (retainedBytes: number, walStatus = 'reserved'): SlotSample => ({
    at: 0,
    walLsn: 0n,
    confirmedFlushLsn: 0n,
    retainedBytes,
    lagBytes: 0,
    walStatus,
    safeWalSizeBytes: null,
  })
  for (const [bytes, secs] of [
    [50, 0],
    [150, 0],
    [200, 11],
    [300, 12],
    [50, 12],
    [40, 1],
    [150, 0],
  ] as const) {
    next = sample(bytes)
    seconds = secs
    assertEquals(await monitor.check(), undefined)
  }
  assertEquals(
    lines.map((l) => l.split(':')[0]),
    [
      'warn replication slot holds more than 100 bytes of WAL',
      'warn delivery is more than 10 s behind the commits',
      'info replication slot WAL is back under the byte threshold',
      'info delivery caught up with the commits',
      'warn replication slot holds more than 100 bytes of WAL',
    ],
  )
  assertEquals(samples.length, 7)
  // A slot that vanished is left to the reconnect (its slot_lost names the gap): not this monitor's error.
  next = undefined
  assertEquals([await monitor.check(), monitor.lost], [undefined, undefined])
  next = sample(0, 'lost')
  assertEquals((await monitor.check())?.code, 'slot_lost')
  assertEquals(monitor.lost?.code, 'slot_lost')
})
