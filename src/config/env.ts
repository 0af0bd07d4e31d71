/** @module The environment variables read as configuration overrides (writers' own variables come from their descriptors). */
import { showValue } from '../fields.ts'
import { BUILTIN_WRITER_ENV } from '../writers/builtin.ts'
import type { ConfigOverrides } from './schema.ts'
import { booleanFromText, numberFromText, splitList } from './text.ts'
import { writerFromEnv, writerOverride, type SourceNames } from './writer-choice.ts'

/** The environment variables read, by what they set. */
export const ENV = {
  url: 'PG_TO_BROKERS_POSTGRES_URL',
  urlFallback: 'DATABASE_URL',
  slot: 'PG_TO_BROKERS_SLOT',
  publication: 'PG_TO_BROKERS_PUBLICATION',
  tables: 'PG_TO_BROKERS_TABLES',
  dropSlotOnExit: 'PG_TO_BROKERS_DROP_SLOT_ON_EXIT',
  standby: 'PG_TO_BROKERS_STANDBY',
  stateTable: 'PG_TO_BROKERS_STATE_TABLE',
  messagePrefixes: 'PG_TO_BROKERS_MESSAGE_PREFIXES',
  heartbeatSeconds: 'PG_TO_BROKERS_HEARTBEAT_SECONDS',
  writer: 'PG_TO_BROKERS_WRITER',
  ...BUILTIN_WRITER_ENV,
  batchSize: 'PG_TO_BROKERS_BATCH_SIZE',
  maxBatchLatencyMs: 'PG_TO_BROKERS_MAX_BATCH_LATENCY_MS',
  batchQueueDepth: 'PG_TO_BROKERS_BATCH_QUEUE_DEPTH',
  snapshotMode: 'PG_TO_BROKERS_SNAPSHOT_MODE',
  snapshotChunkSize: 'PG_TO_BROKERS_SNAPSHOT_CHUNK_SIZE',
  snapshotParallelTables: 'PG_TO_BROKERS_SNAPSHOT_PARALLEL_TABLES',
  snapshotTables: 'PG_TO_BROKERS_SNAPSHOT_TABLES',
  snapshotProgress: 'PG_TO_BROKERS_SNAPSHOT_PROGRESS',
  lagWarnBytes: 'PG_TO_BROKERS_LAG_WARN_BYTES',
  lagWarnSeconds: 'PG_TO_BROKERS_LAG_WARN_SECONDS',
  lagPollSeconds: 'PG_TO_BROKERS_LAG_POLL_SECONDS',
  format: 'PG_TO_BROKERS_FORMAT',
  logLevel: 'PG_TO_BROKERS_LOG_LEVEL',
  logFormat: 'PG_TO_BROKERS_LOG_FORMAT',
  metricsListen: 'PG_TO_BROKERS_METRICS_LISTEN',
  logProgressSeconds: 'PG_TO_BROKERS_LOG_PROGRESS_SECONDS',
} as const

const ENV_NAMES: SourceNames = { type: ENV.writer, source: 'env' }

/** What the environment sets; problems (a bad boolean, a contradictory writer) go to `issues`. */
export function readEnv(env: Readonly<Record<string, string | undefined>>, issues: string[]): ConfigOverrides {
  // An empty variable counts as unset: container tooling often sets variables to "" rather than leaving them out.
  const get = (name: string) => (env[name]?.trim() ? env[name] : undefined)
  const number = (name: string) => mapDefined(get(name), numberFromText)
  const choice = writerFromEnv(get, issues)
  choice.type = get(ENV.writer)
  const writer = writerOverride(choice, ENV_NAMES, issues)
  return compact({
    postgres: nonEmpty(postgresFromEnv(get, issues)),
    writer,
    batch: nonEmpty(compact({ maxRecords: number(ENV.batchSize), maxLatencyMs: number(ENV.maxBatchLatencyMs), queueDepth: number(ENV.batchQueueDepth) })),
    snapshot: nonEmpty(
      compact({
        mode: get(ENV.snapshotMode),
        chunkSize: number(ENV.snapshotChunkSize),
        parallelTables: number(ENV.snapshotParallelTables),
        tables: mapDefined(get(ENV.snapshotTables), splitList),
        progress: get(ENV.snapshotProgress),
      }),
    ),
    lag: nonEmpty(compact({ warnBytes: number(ENV.lagWarnBytes), warnSeconds: number(ENV.lagWarnSeconds), pollSeconds: number(ENV.lagPollSeconds) })),
    format: get(ENV.format),
    logLevel: get(ENV.logLevel),
    logFormat: get(ENV.logFormat),
    metrics: mapDefined(get(ENV.metricsListen), (listen) => ({ listen })),
    logProgressSeconds: number(ENV.logProgressSeconds),
  })
}

function postgresFromEnv(get: (name: string) => string | undefined, issues: string[]): NonNullable<ConfigOverrides['postgres']> {
  const dropSlotOnExit = envBoolean(get, 'dropSlotOnExit', issues)
  const standby = envBoolean(get, 'standby', issues)
  return compact({
    url: get(ENV.url) ?? get(ENV.urlFallback),
    slot: get(ENV.slot),
    publication: get(ENV.publication),
    tables: mapDefined(get(ENV.tables), splitList),
    dropSlotOnExit,
    standby,
    stateTable: get(ENV.stateTable),
    messagePrefixes: mapDefined(get(ENV.messagePrefixes), splitList),
    heartbeatSeconds: mapDefined(get(ENV.heartbeatSeconds), numberFromText),
  })
}

function envBoolean(get: (name: string) => string | undefined, key: 'dropSlotOnExit' | 'standby', issues: string[]): boolean | undefined {
  const text = get(ENV[key])
  const on = mapDefined(text, booleanFromText)
  if (text !== undefined && on === undefined) issues.push(`postgres.${key} (${ENV[key]}): expected true, false, 1 or 0, got ${showValue(text)}`)
  return on
}

/** Drops undefined properties, so the result suits exactOptionalPropertyTypes. */
type Compact<T> = { [K in keyof T]?: Exclude<T[K], undefined> }
function compact<T extends Record<string, unknown>>(record: T): Compact<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Compact<T>
}

const nonEmpty = <T extends object>(record: T): T | undefined => (Object.keys(record).length > 0 ? record : undefined)
const mapDefined = <T, U>(value: T | undefined, fn: (value: T) => U): U | undefined => (value === undefined ? undefined : fn(value))
