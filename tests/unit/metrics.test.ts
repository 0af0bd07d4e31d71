// The metrics registry's text exposition, read back by a strict parser; the pipeline's metrics and readiness; the listen address setting.
import { test } from '../harness.ts'
import { assert, assertEquals, assertThrows } from '../assert.ts'
import { parseExposition, valueOf } from '../prometheus-text.ts'
import { MetricsRegistry } from '../../src/ops/metrics.ts'
import { PipelineMetrics } from '../../src/ops/pipeline-metrics.ts'
import { Health } from '../../src/ops/health.ts'
import { startMetricsServer } from '../../src/ops/metrics-server.ts'
import { PgToBrokersError } from '../../src/errors.ts'
import type { Change } from '../../src/change/change.ts'
import { ConfigError, loadConfig } from '../../src/config/load.ts'
import { parseListenAddress } from '../../src/config/listen.ts'
import { readFileSync } from 'node:fs'

test('metrics: counters, gauges and histograms render as text the strict parser reads back, label values and help escaped', () => {
  const registry = new MetricsRegistry()
  const rows = registry.counter({ name: 'x_rows_total', help: 'Rows \\ with a backslash\nand a line feed', labelNames: ['table', 'operation'] })
  const odd = 'a "quoted" \\ back\nslash'
  rows.labels(odd, 'insert').inc(3)
  rows.labels('public.t', 'insert').inc()
  rows.labels('public.t', 'insert').inc(2)
  const gauge = registry.gauge({ name: 'x_lag_seconds', help: 'Lag' })
  gauge.labels().set(1.5)
  registry.gauge({ name: 'x_inf', help: 'infinite' }).labels().set(Infinity)
  registry.gauge({ name: 'x_nan', help: 'not a number' }).labels().set(NaN)
  const latency = registry.histogram({ name: 'x_publish_seconds', help: 'Latency', buckets: [0.1, 1, 10], labelNames: ['writer'] })
  for (const value of [0.05, 0.1, 0.5, 1, 5, 50]) latency.labels('kafka').observe(value)
  registry.counter({ name: 'x_never_total', help: 'no children yet', labelNames: ['code'] })

  const text = registry.render()
  const parsed = parseExposition(text)
  assertEquals(parsed.get('x_rows_total')!.help, 'Rows \\ with a backslash\nand a line feed')
  assertEquals(parsed.get('x_rows_total')!.type, 'counter')
  assertEquals(valueOf(parsed, 'x_rows_total', { table: odd, operation: 'insert' }), 3)
  assertEquals(valueOf(parsed, 'x_rows_total', { table: 'public.t' }), 3)
  assertEquals(valueOf(parsed, 'x_lag_seconds'), 1.5)
  assertEquals(valueOf(parsed, 'x_inf'), Infinity)
  assert(Number.isNaN(valueOf(parsed, 'x_nan')!), 'NaN')
  // A value equal to a bound falls in that bucket (le = less than or equal).
  const bucket = (le: string) => valueOf(parsed, 'x_publish_seconds_bucket', { writer: 'kafka', le })
  assertEquals([bucket('0.1'), bucket('1'), bucket('10'), bucket('+Inf')], [2, 4, 5, 6])
  assertEquals(valueOf(parsed, 'x_publish_seconds_count', { writer: 'kafka' }), 6)
  assertEquals(valueOf(parsed, 'x_publish_seconds_sum', { writer: 'kafka' }), 0.05 + 0.1 + 0.5 + 1 + 5 + 50)
  assertEquals(parsed.get('x_never_total')!.samples, [])
  assert(text.includes('x_rows_total{table="a \\"quoted\\" \\\\ back\\nslash",operation="insert"} 3\n'), text)
})

test('metrics: the registry refuses invalid names, duplicates, "le" on a histogram, unordered buckets and a wrong count of label values', () => {
  const registry = new MetricsRegistry()
  assertThrows(() => registry.counter({ name: 'bad-name', help: '' }), 'invalid metric name')
  assertThrows(() => registry.counter({ name: 'x', help: '', labelNames: ['__reserved'] }), 'invalid label name')
  registry.counter({ name: 'twice_total', help: '' })
  assertThrows(() => registry.gauge({ name: 'twice_total', help: '' }), 'already registered')
  assertThrows(() => registry.histogram({ name: 'h', help: '', buckets: [1], labelNames: ['le'] }), 'reserved')
  assertThrows(() => registry.histogram({ name: 'h2', help: '', buckets: [2, 1] }), 'increasing')
  const labelled = registry.counter({ name: 'l_total', help: '', labelNames: ['a', 'b'] })
  assertThrows(() => labelled.labels('only one'), 'takes 2 label values')
})

test('metrics: the strict parser rejects what the format does not allow', () => {
  const cases: [string, string][] = [
    ['x 1\n', 'before any TYPE'],
    ['# TYPE x counter\nx 1', 'end with a line feed'],
    ['# TYPE x counter\ny 1\n', 'does not belong'],
    ['# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n', 'the same series twice'],
    ['# TYPE x gauge\nx{a="say "hi""} 1\n', 'expected "," or "}"'],
    ['# TYPE x gauge\nx{a="\\t"} 1\n', 'invalid escape'],
    ['# TYPE x gauge\nx  1\n', 'expected one space'],
    ['# TYPE x gauge\nx one\n', 'invalid value'],
    ['# a comment\n', 'HELP name text'],
    ['# TYPE x gauge\n\n', 'not a sample line'],
    ['# TYPE x counter\nx -1\n', 'counter x is -1'],
    ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', 'cumulative'],
    ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', '+Inf'],
    ['# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', 'must equal _count'],
    ['# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n', '_sum and _count'],
    ['# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\n# HELP x late\n', 'declared earlier'],
  ]
  for (const [text, message] of cases) assertThrows(() => parseExposition(text), message)
})

/** A change of `table` as the row counter sees it (it reads only the relation and the operation). */
function changeOf(relation: { qualifiedName: string } | undefined, operation: Change['operation']): Change {
  return { relation, operation } as unknown as Change
}

test('pipeline metrics: rows per table and operation, transactions with rows only, batches, failures, and the slot sample', () => {
  const metrics = new PipelineMetrics({ slot: 'app', exchangeWindowMs: 30_000, residentMemory: () => 123_456 })
  const counts = metrics.streamCounters()
  const orders = { qualifiedName: 'public.orders' }
  const items = { qualifiedName: 'public."line items"' }
  counts.row(changeOf(orders, 'INSERT'))
  counts.row(changeOf(items, 'UPDATE'))
  counts.row(changeOf(orders, 'INSERT'))
  counts.commit()
  counts.commit() // a transaction without rows (another table's, or empty) is not counted
  counts.row(changeOf(undefined, 'MESSAGE'))
  counts.row(changeOf(orders, 'DELETE'))
  counts.commit()
  metrics.batchPublished(4, 0.02)
  metrics.failure(new PgToBrokersError('pg_connection_lost', 'lost'), true)
  metrics.failure(new Error('plain'), false)
  metrics.reconnected()
  metrics.flushed(0x1_0000_0010n)
  metrics.statusSent(0x1_0000_0010n)
  metrics.recordSlotSample({
    at: 1_700_000_000_000,
    walLsn: 0x1_0000_0100n,
    confirmedFlushLsn: 0x1_0000_0010n,
    retainedBytes: 4096,
    lagBytes: 0xf0,
    walStatus: 'extended',
    safeWalSizeBytes: null,
  })
  const parsed = parseExposition(metrics.render())
  const v = (name: string, labels: Record<string, string> = {}) => valueOf(parsed, `pg_to_brokers_${name}`, labels)
  assertEquals(v('rows_total', { table: 'public.orders', operation: 'insert' }), 2)
  assertEquals(v('rows_total', { table: 'public.orders', operation: 'delete' }), 1)
  assertEquals(v('rows_total', { table: 'public."line items"', operation: 'update' }), 1)
  assertEquals(v('rows_total', { table: '', operation: 'message' }), 1)
  assertEquals(v('rows_total', { table: 'public.orders', operation: 'update' }), undefined, 'no series for an operation never seen')
  assertEquals(v('transactions_total'), 2)
  assertEquals([v('batches_total'), v('batch_records_sum'), v('publish_seconds_count')], [1, 4, 1])
  assertEquals([v('errors_total', { code: 'pg_connection_lost' }), v('errors_total', { code: 'unknown' })], [1, 1])
  assertEquals([v('retries_total', { code: 'pg_connection_lost' }), v('retries_total', { code: 'unknown' })], [1, undefined])
  assertEquals(v('reconnects_total'), 1)
  assertEquals([v('flushed_lsn'), v('confirmed_lsn')], [0x1_0000_0010, 0x1_0000_0010])
  assertEquals([v('slot_lag_bytes', { slot: 'app' }), v('slot_retained_wal_bytes', { slot: 'app' })], [0xf0, 4096])
  assertEquals([v('slot_wal_status', { slot: 'app', status: 'extended' }), v('slot_wal_status', { slot: 'app', status: 'lost' })], [1, 0])
  assertEquals(v('slot_safe_wal_size_bytes', { slot: 'app' }), undefined, 'unlimited: no value')
  assertEquals(v('slot_sample_timestamp_seconds', { slot: 'app' }), 1_700_000_000)
  assertEquals(valueOf(parsed, 'process_resident_memory_bytes'), 123_456)
})

test('pipeline metrics: server frames set the received LSN and WAL end; lag bytes is the WAL end minus the confirmed position', () => {
  let now = 1000
  const metrics = new PipelineMetrics({ slot: 's', exchangeWindowMs: 30_000, now: () => now })
  const frame = (tag: number, first: bigint, second: bigint) => {
    const bytes = new Uint8Array(25)
    const view = new DataView(bytes.buffer)
    bytes[0] = tag
    view.setBigUint64(1, first)
    view.setBigUint64(9, second)
    return bytes
  }
  const ended = metrics.streamStarted({ lagSeconds: (at) => (at - 400) / 1000, spooledBytes: () => 77 })
  metrics.serverFrame(frame(0x77, 0x5000n, 0x9000n)) // XLogData: start 0x5000, WAL end 0x9000
  metrics.statusSent(0x4000n)
  now = 2000
  let parsed = parseExposition(metrics.render())
  const v = (name: string) => valueOf(parsed, `pg_to_brokers_${name}`)
  assertEquals([v('received_lsn'), v('server_wal_end_lsn'), v('lag_bytes')], [0x5000, 0x9000, 0x5000])
  assertEquals([v('lag_seconds'), v('spool_bytes'), v('ready')], [1.6, 77, 1])
  metrics.serverFrame(frame(0x6b, 0xa000n, 0n)) // keepalive: WAL end 0xa000
  metrics.statusSent(0xa000n)
  ended()
  parsed = parseExposition(metrics.render())
  assertEquals([v('received_lsn'), v('server_wal_end_lsn'), v('lag_bytes')], [0xa000, 0xa000, 0])
  assertEquals([v('lag_seconds'), v('spool_bytes'), v('ready')], [0, 0, 0], 'no stream: nothing live, not ready')
})

test('readiness: streaming with a recent message from the server, or standing by; not while starting, reconnecting or silent', () => {
  let now = 0
  const health = new Health(30_000, () => now)
  assertEquals(health.readiness(), { ready: false, reason: 'starting: connecting to PostgreSQL' })
  health.enter('standby')
  assertEquals(health.readiness().ready, true)
  health.enter('streaming')
  now = 30_000
  assertEquals(health.readiness(), { ready: true, reason: 'streaming' })
  now = 45_000
  assertEquals(health.readiness(), { ready: false, reason: 'streaming, but nothing heard from PostgreSQL for 45 s' })
  health.heard()
  assertEquals(health.readiness().ready, true)
  health.enter('reconnecting', 'lost the connection')
  assertEquals(health.readiness(), { ready: false, reason: 'not streaming: reconnecting after: lost the connection' })
})

test('config: metrics.listen from --metrics-listen, PG_TO_BROKERS_METRICS_LISTEN or the file; a bare port is loopback; bad addresses are named', () => {
  const url = 'postgres://u@127.0.0.1:5432/db'
  const load = (argv: string[], env: Record<string, string> = {}) => loadConfig({ env: { PG_TO_BROKERS_POSTGRES_URL: url, ...env }, argv })
  assertEquals(load([]).metrics, {})
  assertEquals(load(['--metrics-listen', '9187']).metrics.listen, { host: '127.0.0.1', port: 9187 })
  assertEquals(load([], { PG_TO_BROKERS_METRICS_LISTEN: '0.0.0.0:9100' }).metrics.listen, { host: '0.0.0.0', port: 9100 })
  assertEquals(load(['--metrics-listen=[::1]:9187'], { PG_TO_BROKERS_METRICS_LISTEN: '1' }).metrics.listen, { host: '::1', port: 9187 })
  const file = loadConfig({ env: { PG_TO_BROKERS_POSTGRES_URL: url }, argv: [], fileText: '{"metrics":{"listen":"localhost:9187"}}', filePath: 'c.json' })
  assertEquals(file.metrics.listen, { host: 'localhost', port: 9187 })
  for (const bad of ['0', '65536', 'host:', ':9187', 'a b:1', '::1:9187', '[nothost]:1', 'http://127.0.0.1:9187']) {
    assertEquals(parseListenAddress(bad), undefined, bad)
    const error = assertThrows(() => load(['--metrics-listen', bad]), 'metrics.listen: expected host:port, [ipv6]:port or a port (then 127.0.0.1)')
    assert(error instanceof ConfigError)
  }
})

test('metrics: the README lists every metric the pipeline renders, and no other', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('## Metrics and health'), readme.indexOf('\n## ', readme.indexOf('## Metrics and health') + 1))
  const listed = [...section.matchAll(/^\| `([a-z_:]+)` \| (counter|gauge|histogram) \|/gm)].map((match) => `${match[1]} ${match[2]}`)
  const parsed = parseExposition(new PipelineMetrics({ slot: 's', exchangeWindowMs: 1000, residentMemory: () => 1 }).render())
  const rendered = [...parsed.values()].map((family) => `${family.name} ${family.type}`)
  assertEquals(listed.sort(), rendered.sort())
})

test('metrics server: /healthz fails once the liveness timer has not ticked for 5 s; other methods and paths are refused', async () => {
  // Once stalled, every reading of the clock is 7 s after the one before: a tick that does run is always 7 s old.
  let now = 1_000_000
  let stalled = false
  const metrics = new PipelineMetrics({ slot: 's', exchangeWindowMs: 1000 })
  const server = await startMetricsServer({ host: '127.0.0.1', port: 0 }, metrics, () => (stalled ? (now += 7000) : now))
  const get = async (path: string, method = 'GET') => {
    const response = await fetch(`http://127.0.0.1:${server.port}${path}`, { method })
    return [response.status, await response.text()]
  }
  try {
    assertEquals(await get('/healthz'), [200, 'ok\n'])
    stalled = true
    assertEquals(await get('/healthz'), [503, 'event loop stalled: no timer tick for 7 s\n'])
    assertEquals(await get('/readyz'), [503, 'starting: connecting to PostgreSQL\n'])
    assertEquals((await get('/metrics', 'POST'))[0], 405)
    assertEquals((await get('/metrics?name=x'))[0], 200)
    assertEquals((await get('/'))[0], 404)
  } finally {
    await server.close()
  }
})
