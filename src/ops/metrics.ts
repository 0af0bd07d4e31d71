/** @module A small metrics registry (counters, gauges, histograms with labels) rendered in the Prometheus text exposition format 0.0.4. */

/** The Content-Type of `MetricsRegistry.render()`'s output. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

export interface MetricOptions {
  /** A Prometheus metric name: counters end in `_total`, units are base units (`_bytes`, `_seconds`). */
  readonly name: string
  readonly help: string
  /** Label names; every child gives one value per name, in this order. */
  readonly labelNames?: readonly string[]
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds of the buckets, increasing; `+Inf` is added. */
  readonly buckets: readonly number[]
}

/** A counter's child for one set of label values: only goes up. */
export class CounterChild {
  value = 0
  inc(n = 1): void {
    this.value += n
  }
}

/** A gauge's child for one set of label values. */
export class GaugeChild {
  value = 0
  set(value: number): void {
    this.value = value
  }
}

/** A histogram's child: per-bucket counts (not cumulative here; rendering sums them), sum and count. */
export class HistogramChild {
  readonly #bounds: readonly number[]
  readonly counts: number[]
  sum = 0
  count = 0

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds
    this.counts = new Array<number>(bounds.length + 1).fill(0)
  }

  observe(value: number): void {
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]!) i++
    this.counts[i]!++
    this.sum += value
    this.count++
  }
}

type Kind = 'counter' | 'gauge' | 'histogram'

/** One metric name with its children, one per set of label values. */
export class Metric<C> {
  readonly #children = new Map<string, { values: readonly string[]; child: C }>()
  readonly #make: () => C

  constructor(
    readonly kind: Kind,
    readonly options: MetricOptions,
    make: () => C,
  ) {
    this.#make = make
    if ((options.labelNames ?? []).length === 0) this.labels()
  }

  /**
   * The child for these label values, created at first use. Resolve it once and keep it: this
   * is a map look-up, not something to do per row. @throws Error when the count of values is wrong.
   */
  labels(...values: string[]): C {
    const names = this.options.labelNames ?? []
    if (values.length !== names.length) throw new Error(`${this.options.name} takes ${names.length} label values, got ${values.length}`)
    const key = values.join('\u0000')
    let entry = this.#children.get(key)
    if (!entry) this.#children.set(key, (entry = { values, child: this.#make() }))
    return entry.child
  }

  /** Forgets every child (a gauge whose label sets are replaced as a whole). */
  clear(): void {
    this.#children.clear()
  }

  /** The children in creation order, with their label values. */
  children(): Iterable<{ values: readonly string[]; child: C }> {
    return this.#children.values()
  }
}

/** The metrics of one process. `render()` writes them all; `onRender` hooks refresh gauges read at scrape time. */
export class MetricsRegistry {
  readonly #metrics: Metric<CounterChild | GaugeChild | HistogramChild>[] = []
  readonly #beforeRender: (() => void)[] = []

  counter(options: MetricOptions): Metric<CounterChild> {
    return this.#add('counter', options, () => new CounterChild())
  }

  gauge(options: MetricOptions): Metric<GaugeChild> {
    return this.#add('gauge', options, () => new GaugeChild())
  }

  histogram(options: HistogramOptions): Metric<HistogramChild> {
    const bounds = options.buckets
    if (bounds.length === 0 || bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= bounds[i - 1]!))) {
      throw new Error(`${options.name}: buckets must be finite and increasing`)
    }
    if ((options.labelNames ?? []).includes('le')) throw new Error(`${options.name}: "le" is reserved for histogram buckets`)
    return this.#add('histogram', options, () => new HistogramChild(bounds))
  }

  /** Runs before each render (gauges that mirror live state are set here). */
  onRender(hook: () => void): void {
    this.#beforeRender.push(hook)
  }

  /** Every metric in the text exposition format, ending with a newline. */
  render(): string {
    for (const hook of this.#beforeRender) hook()
    const lines: string[] = []
    for (const metric of this.#metrics) renderMetric(metric, lines)
    return lines.join('\n') + '\n'
  }

  #add<C extends CounterChild | GaugeChild | HistogramChild>(kind: Kind, options: MetricOptions, make: () => C): Metric<C> {
    if (!METRIC_NAME.test(options.name)) throw new Error(`invalid metric name ${JSON.stringify(options.name)}`)
    if (this.#metrics.some((m) => m.options.name === options.name)) throw new Error(`metric ${options.name} is already registered`)
    for (const label of options.labelNames ?? []) {
      if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new Error(`${options.name}: invalid label name ${JSON.stringify(label)}`)
    }
    const metric = new Metric(kind, options, make)
    this.#metrics.push(metric)
    return metric
  }
}

/** Escapes a label value: backslash, double quote and line feed (the format's only escapes). */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))
}

/** Escapes HELP text: backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'))
}

/** A sample value as the format writes it: `+Inf`, `-Inf`, `NaN`, or the number. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

function renderMetric(metric: Metric<CounterChild | GaugeChild | HistogramChild>, lines: string[]): void {
  const { name, help, labelNames = [] } = metric.options
  lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${metric.kind}`)
  for (const { values, child } of metric.children()) {
    const pairs = labelNames.map((label, i) => `${label}="${escapeLabelValue(values[i]!)}"`)
    if (child instanceof HistogramChild) renderHistogram(name, pairs, child, metric.options as HistogramOptions, lines)
    else lines.push(`${name}${braces(pairs)} ${formatValue(child.value)}`)
  }
}

function renderHistogram(name: string, pairs: readonly string[], child: HistogramChild, options: HistogramOptions, lines: string[]): void {
  let cumulative = 0
  options.buckets.forEach((bound, i) => {
    cumulative += child.counts[i]!
    lines.push(`${name}_bucket${braces([...pairs, `le="${formatValue(bound)}"`])} ${cumulative}`)
  })
  lines.push(`${name}_bucket${braces([...pairs, 'le="+Inf"'])} ${child.count}`)
  lines.push(`${name}_sum${braces(pairs)} ${formatValue(child.sum)}`, `${name}_count${braces(pairs)} ${child.count}`)
}

const braces = (pairs: readonly string[]): string => (pairs.length === 0 ? '' : `{${pairs.join(',')}}`)
