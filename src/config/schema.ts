/** @module The configuration schema (valibot), and how its problems read: one line per problem, `path: expectation, got value`. */
import * as v from 'valibot'
import { KAFKA_SECRET_PATHS, kafkaWriterSchema, type KafkaOverrides } from './kafka.ts'
import { kinesisWriterSchema, type KinesisOverrides } from './kinesis.ts'
import { parseConnectionSettings } from '../pg/conninfo.ts'
import { DEFAULT_STATE_TABLE } from '../pg/slot-markers.ts'

/** Thrown for any configuration problem; `issues` holds every problem found, one line each. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  constructor(readonly issues: readonly string[]) {
    super(issues.join('\n'))
  }
}

/** Fields whose values must never appear in a message (a connection URL may carry a password). */
const SECRET_PATHS = new Set(['postgres.url', ...KAFKA_SECRET_PATHS])
/** Object keys whose values showValue masks, wherever they appear (e.g. a whole writer section quoted in a message). */
const SECRET_KEYS = /^(password|secret|token)$/i

// ---- field schemas -------------------------------------------------------------------------

const integer = (min: number, max: number) => {
  const expected = `expected an integer from ${min} to ${max}`
  return v.pipe(v.number(expected), v.check((n) => Number.isInteger(n) && n >= min && n <= max, expected))
}
const bool = v.boolean('expected true or false')
const nonEmpty = (what: string) => v.pipe(v.string(`expected ${what}`), v.minLength(1, `expected ${what}`))
/** `"a", "b" or "c"` */
const oneOf = (options: readonly string[]) => options.map((o) => JSON.stringify(o)).join(', ').replace(/, ([^,]*)$/, ' or $1')
const choice = <const T extends readonly string[]>(options: T) => v.picklist(options, `expected ${oneOf(options)}`)

const byteLength = (text: string): number => new TextEncoder().encode(text).length

/**
 * Why a connection string is unacceptable, as the connection itself would read it (libpq's rules;
 * PG* environment variables are checked when connecting), without quoting any part of it.
 */
function urlProblem(text: string): string | undefined {
  try {
    parseConnectionSettings(text)
    return undefined
  } catch (error) {
    const problem = error instanceof Error ? error.message.replace(/^invalid PostgreSQL connection settings: /, '') : String(error)
    return `${problem} (value not shown: it may contain a password)`
  }
}

const postgresUrl = v.pipe(
  v.string('expected a postgres:// or postgresql:// URL as a string (value not shown: it may contain a password)'),
  v.check((text) => urlProblem(text) === undefined, (issue) => urlProblem(String(issue.input)) ?? 'invalid URL'),
)

// PostgreSQL's own rule for slot names (ReplicationSlotValidateName), checked here to fail before connecting.
const SLOT_EXPECTED = 'expected 1 to 63 lower-case letters, digits or underscores'
const slotName = v.pipe(v.string(SLOT_EXPECTED), v.regex(/^[a-z0-9_]{1,63}$/, SLOT_EXPECTED))

const PUBLICATION_EXPECTED = 'expected a name of 1 to 63 bytes without NUL characters'
const publicationName = v.pipe(
  v.string(PUBLICATION_EXPECTED),
  v.check((text) => text.length > 0 && byteLength(text) <= 63 && !text.includes('\0'), PUBLICATION_EXPECTED),
)

// An identifier is unquoted (letters, digits, _ and $, not starting with a digit or $)
// or "double-quoted", with "" standing for a quote inside.
const IDENT = String.raw`(?:[\p{L}_][\p{L}\p{N}_$]*|"(?:[^"\0]|"")+")`
const TABLE_NAME = new RegExp(`^(${IDENT})(?:\\.(${IDENT}))?$`, 'u')
const identifierFits = (part: string | undefined) =>
  part === undefined || byteLength(part.startsWith('"') ? part.slice(1, -1).replaceAll('""', '"') : part) <= 63
const TABLE_EXPECTED =
  'expected table or schema.table, each name at most 63 bytes ' +
  '(double-quote names with capitals, spaces or dots, e.g. "My Schema"."My Table")'
const tableName = v.pipe(
  v.string(TABLE_EXPECTED),
  v.check((text) => {
    const match = TABLE_NAME.exec(text)
    return match !== null && identifierFits(match[1]) && identifierFits(match[2])
  }, TABLE_EXPECTED),
)

// ---- objects -------------------------------------------------------------------------------

/**
 * A strict object whose messages explain themselves. Valibot reports one unknown key per object; the
 * message lists every unknown key of that object, one line each, and describeIssues prefixes each line's path.
 */
function strict<const E extends v.ObjectEntries>(entries: E, where = '', required: Readonly<Record<string, string>> = {}) {
  const allowed = Object.keys(entries)
  return v.strictObject(entries, (issue) => {
    const item = issue.path?.[issue.path.length - 1]
    if (issue.expected === 'never' && item?.type === 'object') {
      return Object.keys(item.input)
        .filter((key) => !allowed.includes(key))
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
function objectOnly<S extends v.GenericSchema>(schema: S, message = 'expected an object') {
  const isRecord = (input: unknown) => typeof input === 'object' && input !== null && !Array.isArray(input)
  return v.pipe(v.custom<v.InferInput<S>>(isRecord, message), schema)
}

const PostgresSchema = strict(
  {
    url: postgresUrl,
    slot: v.optional(slotName, 'pg_to_brokers'),
    publication: v.optional(publicationName, 'pg_to_brokers'),
    tables: v.optional(v.array(tableName, 'expected a list of table names ([] means all tables)'), () => []),
    createSlot: v.optional(bool, true),
    // Create a new slot over a lost one (a recorded slot that no longer exists), skipping the changes in between.
    acceptDataLoss: v.optional(bool, false),
    // The table recording which slots this tool streamed from (how a lost slot is recognised).
    stateTable: v.optional(tableName, DEFAULT_STATE_TABLE),
    createPublication: v.optional(bool, true),
    dropSlotOnExit: v.optional(bool, false),
    // Wait while another process streams from the slot, and take over when it stops (one active streamer per slot).
    standby: v.optional(bool, false),
    statusIntervalMs: v.optional(integer(100, 600_000), 10_000),
    connectTimeoutMs: v.optional(integer(100, 600_000), 10_000),
    // 'auto': stream in-progress transactions (protocol 2) when the server can (PostgreSQL 14+).
    streaming: v.optional(choice(['auto', 'on', 'off']), 'auto'),
    // Where streamed transactions are spooled until they commit; default: the OS temp directory.
    spoolDirectory: v.optional(nonEmpty('a directory path')),
    // Logical-message prefixes delivered as records ("*": all); none by default, as any role may emit them.
    messagePrefixes: v.optional(v.array(nonEmpty('a message prefix, or "*" for every prefix'), 'expected a list of message prefixes'), () => []),
  },
  '',
  { url: 'required; set --postgres-url, PG_TO_BROKERS_POSTGRES_URL (or DATABASE_URL), or postgres.url in the config file' },
)

/** The field helpers writer schemas in other files build on. */
const fields = { integer, bool, nonEmpty, choice, strict, objectOnly }
export type SchemaFields = typeof fields

const WRITER_TYPES = ['stdout', 'file', 'module', 'kafka', 'kinesis'] as const
const writerVariants = v.variant(
  'type',
  [
    strict({ type: v.literal('stdout') }, ' for writer type "stdout"'),
    strict(
      { type: v.literal('file'), path: nonEmpty('a file path'), fsync: v.optional(bool, true) },
      ' for writer type "file"',
      { path: 'required for writer type "file"; set --file, PG_TO_BROKERS_FILE_PATH, or writer.path in the config file' },
    ),
    strict(
      {
        type: v.literal('module'),
        path: nonEmpty('a file path or URL of a module whose default export is a StreamWriter subclass'),
        options: v.optional(objectOnly(v.record(v.string(), v.unknown()), 'expected an object of writer options'), () => ({})),
        // An http:, https:, npm: or jsr: module is code fetched at every start: it runs only when allowed.
        allowRemote: v.optional(bool),
      },
      ' for writer type "module"',
      { path: 'required for writer type "module"; set --writer-module, PG_TO_BROKERS_WRITER_MODULE, or writer.path in the config file' },
    ),
    kafkaWriterSchema(fields),
    kinesisWriterSchema(fields),
  ],
  (issue) => (issue.input === undefined ? `required; expected ${oneOf(WRITER_TYPES)}` : `expected ${oneOf(WRITER_TYPES)}`),
)
const WriterSchema = objectOnly(writerVariants, 'expected an object like {"type": "file", "path": "changes.jsonl"}')

const BatchSchema = strict({
  maxRecords: v.optional(integer(1, 100_000), 1000),
  maxBytes: v.optional(integer(1024, 1_073_741_824), 4_194_304),
  maxLatencyMs: v.optional(integer(0, 600_000), 50),
  maxInFlightBatches: v.optional(integer(1, 1024), 8),
})

/** The whole configuration. Everything but `postgres.url` has a default. */
export const ConfigSchema = strict({
  // An empty default (not a required key) so a missing section is reported as "postgres.url: required ...".
  postgres: v.optional(objectOnly(PostgresSchema), () => ({}) as v.InferInput<typeof PostgresSchema>),
  writer: v.optional(WriterSchema, () => ({ type: 'stdout' as const })),
  batch: v.optional(objectOnly(BatchSchema), () => ({})),
  format: v.optional(choice(['seed', 'debezium']), 'seed'),
  logLevel: v.optional(choice(['error', 'warn', 'info', 'debug']), 'info'),
})

/** A validated configuration with every default filled in. */
export type Config = v.InferOutput<typeof ConfigSchema>

/**
 * The part of a configuration one source (environment or flags) sets. Values are still unchecked text
 * where the source is text, so the schema reports them against their field path.
 */
export type ConfigOverrides = {
  postgres?: {
    url?: string
    slot?: string
    publication?: string
    tables?: string[]
    createSlot?: boolean
    acceptDataLoss?: boolean
    stateTable?: string
    createPublication?: boolean
    dropSlotOnExit?: boolean
    standby?: boolean
    messagePrefixes?: string[]
  }
  writer?: { type?: string; path?: string; options?: Record<string, string>; allowRemote?: boolean } & KafkaOverrides & KinesisOverrides
  batch?: { maxRecords?: number | string; maxLatencyMs?: number | string }
  format?: string
  logLevel?: string
}

// ---- issue text ----------------------------------------------------------------------------

/** Turns valibot issues into `path: expectation, got value` lines, without ever quoting a secret field. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string[] {
  const lines = issues.flatMap((issue) => {
    const keys = (issue.path ?? []).map((item) => item.key as string | number)
    if (issue.type === 'strict_object' && issue.expected === 'never') {
      const parent = keys.slice(0, -1).reduce<string>((path, key) => joinPath(path, key), '')
      const prefix = (line: string) => (parent === '' || line.startsWith('[') ? parent : `${parent}.`)
      return issue.message.split('\n').map((line) => `${prefix(line)}${line}`)
    }
    const path = keys.reduce<string>((p, key) => joinPath(p, key), '') || '(config)'
    if (issue.input === undefined || SECRET_PATHS.has(path)) return [`${path}: ${issue.message}`]
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
