/**
 * @module Valibot field schemas whose messages read "expected …", and how their issues read as
 * `path: problem` lines: shared by the configuration and the writers' options, below both.
 */
import * as v from 'valibot'

/** Object keys whose values showValue masks, wherever they appear (e.g. a whole writer section quoted in a message). */
const SECRET_KEYS = /^(password|secret|token)$/i

// ---- field schemas -------------------------------------------------------------------------

/** An integer from min to max. */
export const integer = (min: number, max: number) => {
  const expected = `expected an integer from ${min} to ${max}`
  return v.pipe(
    v.number(expected),
    v.check((n) => Number.isInteger(n) && n >= min && n <= max, expected),
  )
}
export const bool = v.boolean('expected true or false')
/** A string of at least one character, described as `what`. */
export const nonEmpty = (what: string) => v.pipe(v.string(`expected ${what}`), v.minLength(1, `expected ${what}`))
/** `"a", "b" or "c"` */
export const oneOf = (options: readonly string[]): string =>
  options
    .map((o) => JSON.stringify(o))
    .join(', ')
    .replace(/, ([^,]*)$/, ' or $1')
export const choice = <const T extends readonly string[]>(options: T) => v.picklist(options, `expected ${oneOf(options)}`)
/** Text matching a pattern; `expected` says what was expected. */
export const matching = (pattern: RegExp, expected: string) => v.pipe(v.string(expected), v.regex(pattern, expected))

/**
 * A strict object whose messages explain themselves. Valibot reports one unknown key per object; the
 * message lists every unknown key of that object, one line each, and describeIssues prefixes each
 * line's path. `required` words the message for a missing key (how to set it); `hidden` keys (old
 * names kept as aliases) are accepted but not offered.
 */
export function strict<const E extends v.ObjectEntries>(
  entries: E,
  where = '',
  required: Readonly<Record<string, string>> = {},
  hidden: readonly string[] = [],
) {
  const allowed = Object.keys(entries).filter((key) => !hidden.includes(key))
  return v.strictObject(entries, (issue) => {
    const item = issue.path?.[issue.path.length - 1]
    if (issue.expected === 'never' && item?.type === 'object') {
      return Object.keys(item.input)
        .filter((key) => !Object.hasOwn(entries, key))
        .map((key) => {
          const guess = closestMatch(key, allowed)
          const hint = guess === undefined ? '' : ` (did you mean ${guess}?)`
          return `${joinPath('', key)}: unknown key${hint}; allowed keys${where}: ${allowed.join(', ')}`
        })
        .join('\n')
    }
    if (issue.input === undefined && item?.type === 'object') return required[item.key] ?? 'required'
    return `expected an object${where}`
  })
}

/** Rejects arrays before `schema` sees them: valibot's object schemas take any typeof "object", arrays included. */
export function objectOnly<S extends v.GenericSchema>(schema: S, message = 'expected an object') {
  const isRecord = (input: unknown) => typeof input === 'object' && input !== null && !Array.isArray(input)
  return v.pipe(v.custom<v.InferInput<S>>(isRecord, message), schema)
}

// ---- issue text ----------------------------------------------------------------------------

/**
 * Turns valibot issues into `path: expectation, got value` lines, never quoting a value at one of
 * `secretPaths`; a missing value reads `path: message`.
 */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[], secretPaths: ReadonlySet<string> = new Set()): string[] {
  const lines = issues.flatMap((issue) => {
    const keys = (issue.path ?? []).map((item) => item.key as string | number)
    if (issue.type === 'strict_object' && issue.expected === 'never') {
      const parent = keys.slice(0, -1).reduce<string>((path, key) => joinPath(path, key), '')
      const prefix = (line: string) => (parent === '' || line.startsWith('[') ? parent : `${parent}.`)
      return issue.message.split('\n').map((line) => `${prefix(line)}${line}`)
    }
    const path = keys.reduce<string>((p, key) => joinPath(p, key), '') || '(config)'
    if (issue.input === undefined || secretPaths.has(path)) return [`${path}: ${issue.message}`]
    return [`${path}: ${issue.message}, got ${showValue(issue.input)}`]
  })
  return [...new Set(lines)]
}

/** Appends a key to a dotted path: `a.b`, `a[0]`, `a["odd key"]`. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`
  if (!/^[A-Za-z_$][\w$]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`
  return path === '' ? key : `${path}.${key}`
}

/** A short, single-line rendering of a value for messages; anything that looks like URL credentials is masked. */
export function showValue(value: unknown): string {
  const mask = (key: string, item: unknown) => (SECRET_KEYS.test(key) ? '***' : item)
  const text = typeof value === 'string' || (typeof value === 'object' && value !== null) ? JSON.stringify(value, mask) : String(value)
  const masked = text.replace(/:\/\/[^\s/@]*@/g, '://***@')
  return masked.length > 80 ? `${masked.slice(0, 77)}...` : masked
}

/** The candidate closest to `word` by edit distance, if it is close enough to be a plausible typo. */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(word.length / 4)) + 1
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance]
  }
  return best
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min(substitution, (previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}
