/**
 * @module A strict parser of the Prometheus text exposition format (0.0.4) for tests: every line
 * must be a HELP, TYPE or sample line; every sample belongs to a family declared by TYPE before it,
 * and a family's samples are contiguous; no series twice; histograms have cumulative buckets in
 * increasing `le` order ending in `+Inf`, whose count equals `_count`, and a `_sum`.
 * Throws an Error naming the line for anything else.
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  type: string
  help: string | undefined
  readonly samples: Sample[]
}

export type Exposition = ReadonlyMap<string, Family>

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/

/** Parses `text` strictly. @throws Error at the first violation. */
export function parseExposition(text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a line feed')
  const families = new Map<string, Family>()
  const series = new Set<string>()
  let current: Family | undefined
  const lines = text.slice(0, -1).split('\n')
  lines.forEach((line, index) => {
    const fail = (why: string): never => {
      throw new Error(`line ${index + 1} ${JSON.stringify(line)}: ${why}`)
    }
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line) ?? fail('a comment line must be "# HELP name text" or "# TYPE name type"')
      const [, keyword, name, rest] = match
      if (!NAME.test(name!)) fail(`invalid metric name ${name}`)
      let family = families.get(name!)
      if (family && family !== current) fail(`${name} was declared earlier, apart from this line`)
      if (!family) families.set(name!, (family = { name: name!, type: '', help: undefined, samples: [] }))
      if (family.samples.length > 0) fail(`${keyword} of ${name} after its samples`)
      current = family
      if (keyword === 'HELP') {
        if (family.help !== undefined) fail(`second HELP for ${name}`)
        family.help = unescape(rest!, false, fail)
      } else {
        if (family.type !== '') fail(`second TYPE for ${name}`)
        if (!TYPES.has(rest!)) fail(`unknown type ${rest}`)
        family.type = rest!
      }
      return
    }
    const sample = parseSample(line, fail)
    const family = current ?? fail('a sample before any TYPE')
    if (family.type === '') fail(`${family.name} has HELP but no TYPE`)
    if (!belongsTo(sample.name, family)) fail(`sample ${sample.name} does not belong to the family declared last (${family.name} ${family.type})`)
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`
    if (series.has(key)) fail('the same series twice')
    series.add(key)
    family.samples.push(sample)
  })
  for (const family of families.values()) {
    if (family.type === '') throw new Error(`${family.name} has no TYPE`)
    if (family.type === 'histogram') checkHistogram(family)
    if (family.type === 'counter') for (const s of family.samples) if (!(s.value >= 0)) throw new Error(`counter ${s.name} is ${s.value}`)
  }
  return families
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when none. @throws when several match. */
export function valueOf(exposition: Exposition, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const matches = [...exposition.values()]
    .flatMap((family) => family.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return matches[0]?.value
}

function belongsTo(sample: string, family: Family): boolean {
  if (family.type === 'histogram') return [`${family.name}_bucket`, `${family.name}_sum`, `${family.name}_count`].includes(sample)
  if (family.type === 'summary') return [family.name, `${family.name}_sum`, `${family.name}_count`].includes(sample)
  return sample === family.name
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line) ?? fail('not a sample line: it must start with a metric name')
  const name = nameMatch[0]
  let i = name.length
  const labels: Record<string, string> = {}
  if (line[i] === '{') {
    i++
    while (line[i] !== '}') {
      const labelMatch = /^([^=]*)="/.exec(line.slice(i)) ?? fail('expected label="value"')
      const label = labelMatch[1]!
      if (!LABEL_NAME.test(label)) fail(`invalid label name ${JSON.stringify(label)}`)
      if (Object.hasOwn(labels, label)) fail(`label ${label} twice`)
      i += labelMatch[0].length
      let raw = ''
      while (line[i] !== '"') {
        if (i >= line.length) fail('unterminated label value')
        if (line[i] === '\\') raw += line[i++]
        raw += line[i++]
      }
      labels[label] = unescape(raw, true, fail)
      i++
      if (line[i] === ',') i++
      else if (line[i] !== '}') fail('expected "," or "}" after a label value')
    }
    i++
  }
  const rest = line.slice(i)
  const valueMatch = /^ (\S+)(?: (-?\d+))?$/.exec(rest) ?? fail('expected one space, the value and an optional integer timestamp')
  return { name, labels, value: parseValue(valueMatch[1]!, fail) }
}

function parseValue(text: string, fail: (why: string) => never): number {
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  if (text === 'NaN') return NaN
  if (!FLOAT.test(text)) fail(`invalid value ${text}`)
  return Number(text)
}

/** Undoes the format's escapes: `\\` and `\n`, plus `\"` in label values; any other escape is an error. */
function unescape(text: string, quotes: boolean, fail: (why: string) => never): string {
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quotes && c === '"') fail('unescaped " in a label value')
    if (c === '\n') fail('raw line feed')
    if (c !== '\\') {
      out += c
      continue
    }
    const next = text[++i]
    if (next === '\\') out += '\\'
    else if (next === 'n') out += '\n'
    else if (next === '"' && quotes) out += '"'
    else fail(`invalid escape \\${next ?? ''}`)
  }
  return out
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>()
  for (const s of family.samples) {
    const { le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    let group = groups.get(key)
    if (!group) groups.set(key, (group = { buckets: [] }))
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${s.name} without le`)
      group.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value])
    } else if (le !== undefined) throw new Error(`${s.name} has an le label`)
    else if (s.name.endsWith('_sum')) group.sum = s.value
    else group.count = s.value
  }
  for (const [key, group] of groups) {
    const where = `${family.name}${key}`
    const { buckets } = group
    if (buckets.length === 0 || buckets[buckets.length - 1]![0] !== Infinity) throw new Error(`${where}: buckets must end with le="+Inf"`)
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]![0] > buckets[i - 1]![0])) throw new Error(`${where}: le must increase`)
      if (buckets[i]![1] < buckets[i - 1]![1]) throw new Error(`${where}: bucket counts must be cumulative`)
    }
    if (group.count === undefined || group.sum === undefined) throw new Error(`${where}: _sum and _count are required`)
    if (group.count !== buckets[buckets.length - 1]![1]) throw new Error(`${where}: the +Inf bucket must equal _count`)
  }
}
