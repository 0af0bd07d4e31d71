/** @module The configuration schema (valibot), and how its problems read: one line per problem, `path: expectation, got value`. */
import * as v from 'valibot'
import { bool, choice, describeIssues as describeWith, integer, nonEmpty, objectOnly, oneOf, strict } from '../fields.ts'
import { parseConnectionSettings } from '../pg/conninfo.ts'
import { DEFAULT_STATE_TABLE } from '../pg/slot-markers.ts'
import { listenAddress } from './listen.ts'
import { DEFAULT_LAG_ALARMS } from '../ops/slot-monitor.ts'
import { SNAPSHOT_CHUNK_SIZE, SNAPSHOT_MODES, SNAPSHOT_PARALLEL_TABLES, SNAPSHOT_PROGRESS_MODES } from '../snapshot/options.ts'
import type { WriterSection } from '../writers/descriptor.ts'
import { WRITER_SCHEMAS, WRITERS } from '../writers/registry.ts'

/** Thrown for any configuration problem; `issues` holds every problem found, one line each. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  constructor(readonly issues: readonly string[]) {
    super(issues.join('\n'))
  }
}

/** Fields whose values must never appear in a message (a connection URL may carry a password). */
const SECRET_PATHS: ReadonlySet<string> = new Set(['postgres.url', ...WRITERS.flatMap((writer) => (writer.secretPaths ?? []).map((path) => `writer.${path}`))])

// ---- field schemas -------------------------------------------------------------------------

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
  v.check(
    (text) => urlProblem(text) === undefined,
    (issue) => urlProblem(String(issue.input)) ?? 'invalid URL',
  ),
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
  'expected table or schema.table, each name at most 63 bytes ' + '(double-quote names with capitals, spaces or dots, e.g. "My Schema"."My Table")'
const tableName = v.pipe(
  v.string(TABLE_EXPECTED),
  v.check((text) => {
    const match = TABLE_NAME.exec(text)
    return match !== null && identifierFits(match[1]) && identifierFits(match[2])
  }, TABLE_EXPECTED),
)

// ---- objects -------------------------------------------------------------------------------

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
    // Seconds between heartbeat messages emitted in this database while streaming; 0 (the default): none.
    heartbeatSeconds: v.optional(integer(0, 86_400), 0),
  },
  '',
  { url: 'required; set --postgres-url, PG_TO_BROKERS_POSTGRES_URL (or DATABASE_URL), or postgres.url in the config file' },
)

const WRITER_TYPES = WRITERS.map((writer) => writer.type)
const writerVariants = v.variant('type', WRITER_SCHEMAS, (issue) =>
  issue.input === undefined ? `required; expected ${oneOf(WRITER_TYPES)}` : `expected ${oneOf(WRITER_TYPES)}`,
)
const WriterSchema = objectOnly(writerVariants, 'expected an object like {"type": "file", "path": "changes.jsonl"}')

/** Old names of settings, still accepted: the old path, and the path that replaced it. */
export const DEPRECATED_NAMES: readonly (readonly [old: string, current: string])[] = [['batch.maxInFlightBatches', 'batch.queueDepth']]

const QUEUE_DEPTH_DEFAULT = 8
/** 1 PiB: far above any disk, below where a byte count stops being an exact number. */
const LAG_WARN_BYTES_MAX = 2 ** 50
/**
 * The validated section is the pipeline's BatchOptions, where the queue depth (sealed batches
 * waiting for the writer) is still called maxInFlightBatches; the config calls it queueDepth.
 */
const BatchSchema = v.pipe(
  strict(
    {
      maxRecords: v.optional(integer(1, 100_000), 1000),
      maxBytes: v.optional(integer(1024, 1_073_741_824), 4_194_304),
      maxLatencyMs: v.optional(integer(0, 600_000), 50),
      queueDepth: v.optional(integer(1, 1024)),
      maxInFlightBatches: v.optional(integer(1, 1024)),
    },
    '',
    {},
    ['maxInFlightBatches'],
  ),
  v.transform(({ queueDepth, maxInFlightBatches, ...batch }) => ({ ...batch, maxInFlightBatches: queueDepth ?? maxInFlightBatches ?? QUEUE_DEPTH_DEFAULT })),
)

// "classic" names the original project's record shape; "seed", its first name, stays an alias.
const FORMAT_EXPECTED = 'expected "classic" (also called "seed") or "debezium"'
const format = v.pipe(
  v.picklist(['classic', 'seed', 'debezium'], FORMAT_EXPECTED),
  v.transform((name) => (name === 'classic' ? 'seed' : name)),
)

/** Snapshots: the initial one's mode, chunk size, tables read at once, which tables, how progress shows. */
const SnapshotSchema = strict({
  mode: v.optional(choice(SNAPSHOT_MODES), 'never'),
  chunkSize: v.optional(integer(SNAPSHOT_CHUNK_SIZE.min, SNAPSHOT_CHUNK_SIZE.max), SNAPSHOT_CHUNK_SIZE.default),
  parallelTables: v.optional(integer(SNAPSHOT_PARALLEL_TABLES.min, SNAPSHOT_PARALLEL_TABLES.max), SNAPSHOT_PARALLEL_TABLES.default),
  // Absent: the configured tables (postgres.tables), or every table the publication publishes.
  tables: v.optional(v.array(tableName, 'expected a list of table names')),
  progress: v.optional(choice(SNAPSHOT_PROGRESS_MODES), 'auto'),
})

/** Lag alarms while streaming: warn above these thresholds; how often the slot is read. */
const LagSchema = strict({
  warnBytes: v.optional(integer(1, LAG_WARN_BYTES_MAX), DEFAULT_LAG_ALARMS.warnBytes),
  warnSeconds: v.optional(integer(1, 7 * 86_400), DEFAULT_LAG_ALARMS.warnSeconds),
  pollSeconds: v.optional(integer(1, 3600), DEFAULT_LAG_ALARMS.pollSeconds),
})

/** The whole configuration. Everything but `postgres.url` has a default. */
export const ConfigSchema = strict({
  // An empty default (not a required key) so a missing section is reported as "postgres.url: required ...".
  postgres: v.optional(objectOnly(PostgresSchema), () => ({}) as v.InferInput<typeof PostgresSchema>),
  writer: v.optional(WriterSchema, () => ({ type: 'stdout' as const })),
  batch: v.optional(objectOnly(BatchSchema), () => ({})),
  snapshot: v.optional(objectOnly(SnapshotSchema), () => ({})),
  lag: v.optional(objectOnly(LagSchema), () => ({})),
  // The Prometheus metrics and health listener: off unless an address is given.
  metrics: v.optional(objectOnly(strict({ listen: v.optional(listenAddress) })), () => ({})),
  format: v.optional(format, 'seed'),
  logLevel: v.optional(choice(['error', 'warn', 'info', 'debug']), 'info'),
  logFormat: v.optional(choice(['text', 'json']), 'text'),
  // Seconds between progress lines while streaming; 0 turns them off.
  logProgressSeconds: v.optional(integer(0, 86_400), 60),
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
    heartbeatSeconds?: number | string
  }
  writer?: WriterSection
  batch?: { maxRecords?: number | string; maxLatencyMs?: number | string; queueDepth?: number | string }
  snapshot?: { mode?: string; chunkSize?: number | string; parallelTables?: number | string; tables?: string[]; progress?: string }
  lag?: { warnBytes?: number | string; warnSeconds?: number | string; pollSeconds?: number | string }
  metrics?: { listen?: string }
  format?: string
  logLevel?: string
  logFormat?: string
  logProgressSeconds?: number | string
}

// ---- issue text ----------------------------------------------------------------------------

/** Turns valibot issues into `path: expectation, got value` lines, without ever quoting a secret field. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string[] {
  return describeWith(issues, SECRET_PATHS)
}
