/** @module Turns measurements into the Markdown tables printed at the end of a run (and pasted into RESULTS.md). */
import type { LatencyResult } from './latency.ts'
import type { Measurement } from './measure.ts'
import type { ProfileSummary } from './profile.ts'

export interface ConsumerResult {
  readonly id: string
  readonly label: string
  readonly baseline: boolean
  /** Rows the slot held (workload plus marker). */
  readonly expectedRows: number
  readonly measurement: Measurement
}

export interface WorkloadResult {
  readonly name: string
  readonly title: string
  readonly results: readonly ConsumerResult[]
}

const MB = 1024 * 1024

export function rowsPerSecond(result: ConsumerResult): number {
  return result.expectedRows / result.measurement.seconds
}

export function workloadTable(workload: WorkloadResult): string {
  const baseline = workload.results.find((r) => r.baseline)
  const base = baseline ? rowsPerSecond(baseline) : Number.NaN
  const millions = (r: ConsumerResult) => r.expectedRows / 1e6
  const lines = [
    `### ${workload.name}: ${workload.title}`,
    '',
    '| consumer | rows/s | × pg_recvlogical unix | walsender CPU s / M rows | consumer CPU s / M rows | peak RSS MB | load (1 min) | notes |',
    '|---|--:|--:|--:|--:|--:|--:|---|',
  ]
  for (const r of workload.results) {
    const m = r.measurement
    if (m.exitCode !== 0) {
      lines.push(`| ${r.label} | — | — | — | — | — | ${fmt(m.load1, 1)} | ${notes(r)} |`)
      continue
    }
    lines.push(
      `| ${r.label} | ${fmt(rowsPerSecond(r), 0)} | ${fmt(rowsPerSecond(r) / base, 2)} | ${fmt(m.walsenderCpu / millions(r), 2)} | ` +
        `${fmt(m.consumerCpu / millions(r), 2)} | ${fmt(m.peakRss / MB, 0)} | ${fmt(m.load1, 1)} | ${notes(r)} |`,
    )
  }
  return [...lines, ...writerRatios(workload.results)].join('\n')
}

/** A CLI row with another writer (id `cli_node_tcp_<writer>`) against the same CLI to stdout (`cli_node_tcp`), when both ran. */
function writerRatios(results: readonly ConsumerResult[]): string[] {
  const ok = results.filter((r) => r.measurement.exitCode === 0)
  const lines: string[] = []
  for (const r of ok) {
    const base = ok.find((b) => r.id.startsWith(`${b.id}_`) && /^cli_node_(tcp|tls)$/.test(b.id))
    if (base) lines.push(`- ${r.id} ÷ ${base.id}: ${fmt(rowsPerSecond(r) / rowsPerSecond(base), 2)} × the rows/s`)
  }
  return lines.length > 0 ? ['', ...lines] : []
}

/** RSS over the run at fifths of its length: flat is what streaming a huge transaction should look like. */
export function rssProfile(result: ConsumerResult): string {
  // A sample taken while the consumer was exiting holds only the wrapping shell: leave those out.
  const all = result.measurement.rssSeries
  const largest = Math.max(0, ...all.map(([, rss]) => rss))
  const series = all.filter(([, rss]) => rss >= largest / 4)
  if (series.length === 0) return 'no samples'
  const points: string[] = []
  for (let fifth = 1; fifth <= 5; fifth++) {
    const sample = series[Math.min(series.length - 1, Math.floor((series.length * fifth) / 5) - 1)]!
    points.push(`${fmt(sample[0], 1)} s: ${fmt(sample[1] / MB, 0)} MB`)
  }
  return points.join(', ')
}

export function latencyTable(results: readonly LatencyResult[], describeLoad: string): string {
  const lines = [
    `### commit → acknowledgement latency (${describeLoad})`,
    '',
    '| consumer | transactions | p50 ms | p99 ms | max ms | peak RSS MB | generator late commits |',
    '|---|--:|--:|--:|--:|--:|--:|',
  ]
  for (const r of results) {
    lines.push(
      `| ${r.label} | ${r.transactions} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.max, 1)} | ${fmt(r.measurement.peakRss / MB, 0)} | ${r.lateCommits} |`,
    )
  }
  return lines.join('\n')
}

export function profileTable(summary: ProfileSummary): string {
  const lines = [`### profile of the Node runner (${fmt(summary.totalMs / 1000, 1)} s sampled)`, '', '| stage | share of samples |', '|---|--:|']
  for (const [stage, share] of summary.stages) lines.push(`| ${stage} | ${fmt(share * 100, 1)} % |`)
  lines.push('', '| heaviest functions (self time) | share |', '|---|--:|')
  for (const [name, share] of summary.functions) lines.push(`| ${name.replaceAll('|', '\\|')} | ${fmt(share * 100, 1)} % |`)
  return lines.join('\n')
}

function notes(r: ConsumerResult): string {
  const m = r.measurement
  const out: string[] = []
  if (m.exitCode !== 0) out.push(`failed (exit ${m.exitCode}): ${firstError(m.stderr)}`)
  if (m.report && m.report.rows !== r.expectedRows) out.push(`saw ${m.report.rows} of ${r.expectedRows} rows`)
  return out.join('; ')
}

function firstError(text: string): string {
  const lines = text.split('\n')
  const line = lines.find((l) => /^\w*Error\b.*:/.test(l)) ?? lines.find((l) => /error/i.test(l)) ?? text.trim().split('\n').pop() ?? ''
  return line.trim().replaceAll('|', '\\|').slice(0, 160)
}

function fmt(n: number, digits: number): string {
  if (!Number.isFinite(n)) return '—'
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}
