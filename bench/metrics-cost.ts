/**
 * @module `tsx bench/metrics-cost.ts`: what the metrics add per row on the pipeline's hot path — a
 * row counter increment per change, a transaction per 1,000 rows, a batch histogram per 1,000 rows —
 * against the same loop without them, in ns/row. Compare with the CLI's consumer CPU per row (the
 * "consumer CPU s / M rows" column of `npm run bench`: about 2 µs for cli_node_tcp on main); end to
 * end, cli_node_tcp_metrics against cli_node_tcp, the difference drowns in a shared machine's noise.
 */
import type { Change } from '../src/change/change.ts'
import { PipelineMetrics } from '../src/ops/pipeline-metrics.ts'

const ROWS_PER_TRANSACTION = 1000
const metrics = new PipelineMetrics({ slot: 'bench', exchangeWindowMs: 30_000 })
const relations = [{ qualifiedName: 'public.a' }, { qualifiedName: 'public.b' }]
// Two tables and two operations, so the counter's cached table changes mid-transaction.
const changes = Array.from({ length: ROWS_PER_TRANSACTION }, (_, i) => ({
  relation: relations[i < ROWS_PER_TRANSACTION / 2 ? 0 : 1],
  operation: i % 3 === 0 ? 'UPDATE' : 'INSERT',
})) as unknown as Change[]

function nsPerRow(transactions: number, counted: boolean): number {
  const counts = metrics.streamCounters()
  let work = 0
  const started = performance.now()
  for (let t = 0; t < transactions; t++) {
    for (const change of changes) {
      if (counted) counts.row(change)
      work += change.operation.length
    }
    if (counted) counts.commit(), metrics.batchPublished(ROWS_PER_TRANSACTION, 0.001)
  }
  if (work === 0) throw new Error('the loop was optimised away')
  return ((performance.now() - started) * 1e6) / (transactions * ROWS_PER_TRANSACTION)
}

for (let warm = 0; warm < 3; warm++) nsPerRow(2000, true), nsPerRow(2000, false)
const withMetrics = nsPerRow(5000, true)
const without = nsPerRow(5000, false)
console.log(`metrics: ${(withMetrics - without).toFixed(1)} ns/row (loop with them ${withMetrics.toFixed(1)}, without ${without.toFixed(1)})`)
