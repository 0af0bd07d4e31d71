import { test } from '../harness.ts'
import { assert, assertEquals, assertThrows } from '../assert.ts'
import { ENV, loadConfig, type ConfigSources } from '../../src/config/load.ts'
import { ConfigSchema } from '../../src/config/schema.ts'
import { KNOWN_FLAGS, parseArgs } from '../../src/cli/args.ts'
import { HELP_TEXT } from '../../src/cli/help.ts'
import * as v from 'valibot'
import { configIssues } from './config-support.ts'

const PASSWORD = 's3cr3t-pw'
const URL = `postgres://app:${PASSWORD}@db.internal:5432/app`

/** Loads with an empty environment and no flags unless given. */
function load(sources: Partial<ConfigSources>) {
  return loadConfig({ env: {}, argv: [], ...sources })
}

/** The issues of the ConfigError that loading must throw. */
const problems = (sources: Partial<ConfigSources>): string[] => configIssues(() => load(sources))

const file = (value: unknown) => ({ fileText: JSON.stringify(value), filePath: 'pg.json' })

const SLOT_EXPECTED = 'expected 1 to 63 lower-case letters, digits or underscores'
const TABLE_EXPECTED =
  'expected table or schema.table, each name at most 63 bytes (double-quote names with capitals, spaces or dots, e.g. "My Schema"."My Table")'
const URL_HIDDEN = '(value not shown: it may contain a password)'

test('config: only the URL is required; everything else has its default', () => {
  assertEquals(load({ argv: ['--postgres-url', URL] }), {
    postgres: {
      url: URL,
      slot: 'pg_to_brokers',
      publication: 'pg_to_brokers',
      tables: [],
      createSlot: true,
      acceptDataLoss: false,
      stateTable: 'public.pg_to_brokers_slots',
      createPublication: true,
      dropSlotOnExit: false,
      standby: false,
      statusIntervalMs: 10000,
      connectTimeoutMs: 10000,
      streaming: 'auto',
      messagePrefixes: [],
      heartbeatSeconds: 0,
    },
    writer: { type: 'stdout' },
    batch: { maxRecords: 1000, maxBytes: 4194304, maxLatencyMs: 50, maxInFlightBatches: 8 },
    snapshot: { mode: 'never', chunkSize: 4096, parallelTables: 1, progress: 'auto' },
    lag: { warnBytes: 1073741824, warnSeconds: 300, pollSeconds: 10 },
    metrics: {},
    format: 'seed',
    logLevel: 'info',
    logFormat: 'text',
    logProgressSeconds: 60,
  })
  assertEquals(v.parse(ConfigSchema, { postgres: { url: URL }, writer: { type: 'file', path: 'a' } }).writer, { type: 'file', path: 'a', fsync: true })
  assertEquals(v.parse(ConfigSchema, { postgres: { url: URL }, writer: { type: 'module', path: 'w.ts' } }).writer, {
    type: 'module',
    path: 'w.ts',
    options: {},
  })
})

test('config: file < environment < flags, merged field by field', () => {
  const config = load({
    ...file({
      postgres: { url: URL, slot: 'from_file', publication: 'from_file', tables: ['public.a'], createSlot: false, statusIntervalMs: 500 },
      batch: { maxRecords: 10, maxBytes: 2048, maxLatencyMs: 1 },
      format: 'debezium',
      logLevel: 'debug',
    }),
    env: { [ENV.slot]: 'from_env', [ENV.publication]: 'from_env', [ENV.batchSize]: '20', [ENV.logLevel]: 'warn' },
    argv: ['--slot', 'from_flags', '--max-batch-latency-ms=7', '--log-level', 'error'],
  })
  assertEquals(config.postgres.slot, 'from_flags')
  assertEquals(config.postgres.publication, 'from_env')
  assertEquals(config.postgres.tables, ['public.a'])
  assertEquals(config.postgres.createSlot, false)
  assertEquals(config.postgres.statusIntervalMs, 500)
  assertEquals(config.batch, { maxRecords: 20, maxBytes: 2048, maxLatencyMs: 7, maxInFlightBatches: 8 })
  assertEquals(config.format, 'debezium')
  assertEquals(config.logLevel, 'error')
})

test('config: the URL comes from PG_TO_BROKERS_POSTGRES_URL, else DATABASE_URL; empty variables are ignored', () => {
  const other = 'postgres://other@127.0.0.1/app'
  assertEquals(load({ env: { DATABASE_URL: URL } }).postgres.url, URL)
  assertEquals(load({ env: { DATABASE_URL: other, [ENV.url]: URL } }).postgres.url, URL)
  assertEquals(load({ env: { DATABASE_URL: URL, [ENV.url]: '' } }).postgres.url, URL)
  assertEquals(load({ env: { [ENV.url]: other, [ENV.slot]: '' }, argv: ['--postgres-url', URL] }).postgres.url, URL)
  assertEquals(load({ env: { [ENV.url]: URL, [ENV.slot]: '' } }).postgres.slot, 'pg_to_brokers')
  assertEquals(load({ argv: ['--postgres-url', 'postgres:///app?host=/var/run/postgresql'] }).postgres.url, 'postgres:///app?host=/var/run/postgresql')
  assertEquals(load({ argv: ['--postgres-url', 'postgresql://u:p@/app?host=/tmp'] }).postgres.url, 'postgresql://u:p@/app?host=/tmp')
})

test('config: every kind of invalid value names its field and what is expected', () => {
  const found = problems(
    file({
      postgres: { url: URL, slot: 5, publication: '', tables: 'orders', createSlot: 'yes', statusIntervalMs: 50, connectTimeoutMs: 1e9 },
      writer: { type: 'file', path: '', fsync: 1 },
      batch: { maxRecords: 0, maxBytes: 512, maxLatencyMs: -1, maxInFlightBatches: 2.5 },
      format: 'avro',
      logLevel: 'trace',
    }),
  )
  assertEquals(found, [
    `postgres.slot: ${SLOT_EXPECTED}, got 5`,
    'postgres.publication: expected a name of 1 to 63 bytes without NUL characters, got ""',
    'postgres.tables: expected a list of table names ([] means all tables), got "orders"',
    'postgres.createSlot: expected true or false, got "yes"',
    'postgres.statusIntervalMs: expected an integer from 100 to 600000, got 50',
    'postgres.connectTimeoutMs: expected an integer from 100 to 600000, got 1000000000',
    'writer.path: expected a file path, got ""',
    'writer.fsync: expected true or false, got 1',
    'batch.maxRecords: expected an integer from 1 to 100000, got 0',
    'batch.maxBytes: expected an integer from 1024 to 1073741824, got 512',
    'batch.maxLatencyMs: expected an integer from 0 to 600000, got -1',
    'batch.maxInFlightBatches: expected an integer from 1 to 1024, got 2.5',
    'format: expected "classic" (also called "seed") or "debezium", got "avro"',
    'logLevel: expected "error", "warn", "info" or "debug", got "trace"',
  ])
  assertEquals(problems(file({ postgres: { url: URL, tables: ['ok', 'a.b.c', 7] }, writer: { type: 'module', path: 'w.ts', options: [] }, batch: 5 })), [
    `postgres.tables[1]: ${TABLE_EXPECTED}, got "a.b.c"`,
    `postgres.tables[2]: ${TABLE_EXPECTED}, got 7`,
    'writer.options: expected an object of writer options, got []',
    'batch: expected an object, got 5',
  ])
  assertEquals(problems(file({ writer: { path: 'x' } })), [
    'postgres.url: required; set --postgres-url, PG_TO_BROKERS_POSTGRES_URL (or DATABASE_URL), or postgres.url in the config file',
    'writer.type: required; expected "stdout", "file", "module", "kafka" or "kinesis"',
  ])
  assertEquals(problems(file({ postgres: { url: URL }, writer: { type: 'file' } })), [
    'writer.path: required for writer type "file"; set --file, PG_TO_BROKERS_FILE_PATH, or writer.path in the config file',
  ])
  assertEquals(problems(file({ postgres: { url: URL }, writer: 'stdout' })), [
    'writer: expected an object like {"type": "file", "path": "changes.jsonl"}, got "stdout"',
  ])
  assertEquals(problems(file({ postgres: { url: URL }, batch: [], writer: [] })), [
    'writer: expected an object like {"type": "file", "path": "changes.jsonl"}, got []',
    'batch: expected an object, got []',
  ])
  assertEquals(problems({ fileText: '[1]', filePath: 'pg.json' }), ['config file pg.json: expected a JSON object ({ ... }) at the top level'])
})

test('config: numbers from flags and environment are checked against their field', () => {
  assertEquals(problems({ argv: ['--postgres-url', URL, '--batch-size', 'abc', '--max-batch-latency-ms=1.5'] }), [
    'batch.maxRecords: expected an integer from 1 to 100000, got "abc"',
    'batch.maxLatencyMs: expected an integer from 0 to 600000, got 1.5',
  ])
  assertEquals(problems({ env: { [ENV.url]: URL, [ENV.batchSize]: '100001', [ENV.maxBatchLatencyMs]: '10ms' } }), [
    'batch.maxRecords: expected an integer from 1 to 100000, got 100001',
    'batch.maxLatencyMs: expected an integer from 0 to 600000, got "10ms"',
  ])
})

test('config: unknown keys at any level name the key, suggest a near one and list the allowed keys', () => {
  assertEquals(problems(file({ postgres: { url: URL, passwd: 'x', slots: 'y' }, writer: { type: 'stdout', path: 'x' }, batchh: {}, 'odd key': 1 })), [
    'postgres.passwd: unknown key; allowed keys: url, slot, publication, tables, createSlot, acceptDataLoss, stateTable, createPublication, ' +
      'dropSlotOnExit, standby, statusIntervalMs, connectTimeoutMs, streaming, spoolDirectory, messagePrefixes, heartbeatSeconds',
    'postgres.slots: unknown key (did you mean slot?); allowed keys: url, slot, publication, tables, createSlot, acceptDataLoss, stateTable, ' +
      'createPublication, dropSlotOnExit, standby, statusIntervalMs, connectTimeoutMs, streaming, spoolDirectory, messagePrefixes, heartbeatSeconds',
    'writer.path: unknown key; allowed keys for writer type "stdout": type',
    'batchh: unknown key (did you mean batch?); allowed keys: postgres, writer, batch, snapshot, lag, metrics, format, logLevel, logFormat, logProgressSeconds',
    '["odd key"]: unknown key; allowed keys: postgres, writer, batch, snapshot, lag, metrics, format, logLevel, logFormat, logProgressSeconds',
  ])
  assertEquals(problems(file({ postgres: { url: URL }, batch: { maxRecrods: 5 } })), [
    'batch.maxRecrods: unknown key (did you mean maxRecords?); allowed keys: maxRecords, maxBytes, maxLatencyMs, queueDepth',
  ])
  // "__proto__" from JSON is an ordinary (unknown) key, never a prototype.
  assertEquals(problems({ fileText: `{"__proto__": {"polluted": 1}, "postgres": {"url": "${URL}"}}` }), [
    '__proto__: unknown key; allowed keys: postgres, writer, batch, snapshot, lag, metrics, format, logLevel, logFormat, logProgressSeconds',
  ])
  assertEquals(({} as Record<string, unknown>).polluted, undefined)
})

test('config: a JSON syntax error names the file and the line and column', () => {
  const trailingComma = `{\n  "postgres": {"url": "${URL}",}\n}`
  assertEquals(problems({ fileText: trailingComma, filePath: '/etc/pg.json' }), [
    `config file /etc/pg.json: invalid JSON at line 2, column ${trailingComma.split('\n')[1]!.indexOf('}') + 1}: expected a "quoted" key`,
  ])
  assertEquals(problems({ fileText: '{"postgres": {"url": "x"', filePath: 'pg.json' }), [
    'config file pg.json: invalid JSON at line 1, column 25 (end of file): expected "," or "}"',
  ])
  assertEquals(problems({ fileText: '{"a": "x\ty"}', filePath: 'pg.json' }), [
    'config file pg.json: invalid JSON at line 1, column 9: expected a closing " (escape control characters)',
  ])
  assertEquals(problems({ fileText: '{"a": tru}', filePath: 'pg.json' }), ['config file pg.json: invalid JSON at line 1, column 7: expected a value'])
  assertEquals(problems({ fileText: '{}\n}', filePath: 'pg.json' }), ['config file pg.json: invalid JSON at line 2, column 1: expected the end of the file'])
  assertEquals(problems({ fileText: '', filePath: 'pg.json' }), ['config file pg.json: invalid JSON at line 1, column 1 (end of file): expected a value'])
  // Problems elsewhere are still reported, but not "required" ones the broken file would have settled.
  assertEquals(problems({ fileText: '{', filePath: 'pg.json', argv: ['--slot', 'BAD'] }), [
    'config file pg.json: invalid JSON at line 1, column 2 (end of file): expected a "quoted" key',
    `postgres.slot: ${SLOT_EXPECTED}, got "BAD"`,
  ])
  assertEquals(load({ fileText: `\uFEFF{"postgres": {"url": "${URL}"}}` }).postgres.url, URL)
})

test('config: slot names follow PostgreSQL rules', () => {
  const slot = (name: string) => problems({ argv: ['--postgres-url', URL, '--slot', name] })
  assertEquals(slot('App_CDC'), [`postgres.slot: ${SLOT_EXPECTED}, got "App_CDC"`])
  assertEquals(slot('a'.repeat(64)), [`postgres.slot: ${SLOT_EXPECTED}, got "${'a'.repeat(64)}"`])
  assertEquals(slot('app"cdc'), [`postgres.slot: ${SLOT_EXPECTED}, got "app\\"cdc"`])
  assertEquals(slot('app-cdc'), [`postgres.slot: ${SLOT_EXPECTED}, got "app-cdc"`])
  assertEquals(slot(''), [`postgres.slot: ${SLOT_EXPECTED}, got ""`])
  assertEquals(load({ argv: ['--postgres-url', URL, '--slot', `app_cdc_2${'x'.repeat(54)}`] }).postgres.slot.length, 63)
})

test('config: publication names are 1 to 63 bytes without NUL; table names may be quoted', () => {
  const expected = 'postgres.publication: expected a name of 1 to 63 bytes without NUL characters'
  assertEquals(load({ argv: ['--postgres-url', URL, '--publication', 'My "Pub"'] }).postgres.publication, 'My "Pub"')
  assertEquals(problems({ argv: ['--postgres-url', URL, '--publication', 'a\0b'] }), [`${expected}, got "a\\u0000b"`])
  assertEquals(problems({ argv: ['--postgres-url', URL, '--publication', 'é'.repeat(32)] }), [`${expected}, got "${'é'.repeat(32)}"`])
  const tables = '"My Schema"."My, Table", public.orders ,orders,"a""b"'
  assertEquals(load({ env: { [ENV.url]: URL, [ENV.tables]: tables } }).postgres.tables, ['"My Schema"."My, Table"', 'public.orders', 'orders', '"a""b"'])
  assertEquals(load({ argv: ['--postgres-url', URL, '--tables', 'public.orders,Ünïcode'] }).postgres.tables, ['public.orders', 'Ünïcode'])
  assertEquals(problems({ argv: ['--postgres-url', URL, '--tables', `a.b.c,1abc,${'t'.repeat(64)}`] }), [
    `postgres.tables[0]: ${TABLE_EXPECTED}, got "a.b.c"`,
    `postgres.tables[1]: ${TABLE_EXPECTED}, got "1abc"`,
    `postgres.tables[2]: ${TABLE_EXPECTED}, got "${'t'.repeat(64)}"`,
  ])
})

test('config: the postgres URL is never echoed in any message', () => {
  const cases: Partial<ConfigSources>[] = [
    { argv: ['--postgres-url', `mysql://app:${PASSWORD}@db/app`] },
    { argv: ['--postgres-url', `postgres://app:${PASSWORD}@db:99999/app`] },
    { argv: ['--postgres-url', `postgres://app:${PASSWORD}@db/app?statement_timeout=5s`] },
    { argv: ['--postgres-url', `app:${PASSWORD}@db/app`] },
    { env: { DATABASE_URL: `http://app:${PASSWORD}@db/app` } },
    file({ postgres: { url: `postgres://app:${PASSWORD}@db:x/app`, slot: 'BAD' } }),
    file({ postgres: { url: 42, uri: URL } }),
    { fileText: `{"postgres": {"url": "${URL}" "slot": 1}}`, filePath: 'pg.json' },
    { argv: ['--postgres-url', URL, '--pg-url=' + URL, URL, '--slot', URL, '--writer-option', URL] },
  ]
  const messages = cases.flatMap((sources) => problems(sources))
  assertEquals(
    messages.filter((message) => message.includes(PASSWORD)),
    [],
  )
  const urlMessages = messages.filter((message) => message.startsWith('postgres.url:'))
  assertEquals(urlMessages, [
    `postgres.url: expected a postgres:// or postgresql:// URL such as postgres://USER:PASSWORD@HOST:5432/DATABASE, ` +
      `or key=value settings such as "host=/var/run/postgresql dbname=app" ${URL_HIDDEN}`,
    `postgres.url: the port is not a number from 1 to 65535 (if the password holds "/", "@", ":" or "?", percent-encode them) ${URL_HIDDEN}`,
    `postgres.url: unknown URL query parameter "statement_timeout": use host, port, dbname, user, password, application_name, ` +
      `fallback_application_name, sslmode, sslrootcert, connect_timeout, options; give server settings as options, ` +
      `as in options=-c%20statement_timeout%3D5s ${URL_HIDDEN}`,
    `postgres.url: expected a postgres:// or postgresql:// URL such as postgres://USER:PASSWORD@HOST:5432/DATABASE, ` +
      `or key=value settings such as "host=/var/run/postgresql dbname=app" ${URL_HIDDEN}`,
    `postgres.url: expected a postgres:// or postgresql:// URL such as postgres://USER:PASSWORD@HOST:5432/DATABASE, ` +
      `or key=value settings such as "host=/var/run/postgresql dbname=app" ${URL_HIDDEN}`,
    `postgres.url: the port is not a number from 1 to 65535 (if the password holds "/", "@", ":" or "?", percent-encode them) ${URL_HIDDEN}`,
    `postgres.url: expected a postgres:// or postgresql:// URL as a string ${URL_HIDDEN}`,
  ])
})

test('config: unknown flags get a suggestion; a flag without its value is named', () => {
  assertEquals(problems({ argv: ['--postgres-url', URL, '--slott', 'x'] }), ['unknown flag --slott; did you mean --slot? (see --help)'])
  assertEquals(problems({ argv: ['--postgres-url', URL, '--batchsize=5', '--frobnicate'] }), [
    'unknown flag --batchsize; did you mean --batch-size? (see --help)',
    'unknown flag --frobnicate (see --help)',
  ])
  assertEquals(problems({ argv: ['--postgres-url', URL, '--slot'] }), ['--slot: missing value (usage: --slot <name>)'])
  assertEquals(problems({ argv: ['--slot', '--postgres-url', URL] }), ['--slot: missing value (usage: --slot <name>)'])
  assertEquals(problems({ argv: ['--postgres-url', URL, '--create-slot=maybe', '--no-create-slot=1', '--writer-option', 'novalue'] }), [
    '--create-slot: expected true, false, 1 or 0, got "maybe"',
    '--no-create-slot takes no value',
    '--writer-option: expected key=value, got "novalue"',
  ])
  assertEquals(problems({ argv: ['strat', '--postgres-url', URL] }), ['unknown command "strat" (commands: run, snapshot, status, help, version)'])
  assertEquals(problems({ argv: ['run', 'now', '--postgres-url', URL] }), ['unexpected argument "now" after the command "run"'])
  assertThrows(() => parseArgs(['--slott', 'x']), 'unknown flag --slott; did you mean --slot?')
})

test('config: --file and --writer-module imply their writer; conflicting choices are problems', () => {
  assertEquals(load({ argv: ['--postgres-url', URL, '--file', 'out.jsonl'] }).writer, { type: 'file', path: 'out.jsonl', fsync: true })
  assertEquals(load({ env: { [ENV.url]: URL, [ENV.filePath]: 'env.jsonl' } }).writer, { type: 'file', path: 'env.jsonl', fsync: true })
  // Same type: the file's other writer settings stay. Another type: the writer section starts afresh.
  const fsyncOff = file({ postgres: { url: URL }, writer: { type: 'file', path: 'a.jsonl', fsync: false } })
  assertEquals(load({ ...fsyncOff, argv: ['--file', 'b.jsonl'] }).writer, { type: 'file', path: 'b.jsonl', fsync: false })
  assertEquals(load({ ...fsyncOff, argv: ['--writer', 'stdout'] }).writer, { type: 'stdout' })
  const moduleFile = file({ postgres: { url: URL }, writer: { type: 'module', path: 'w.ts', options: { stream: 'a', shards: 2 } } })
  assertEquals(load({ ...moduleFile, argv: ['--writer-option', 'stream=b', '--writer-option=region=eu-west-1=x'] }).writer, {
    type: 'module',
    path: 'w.ts',
    options: { stream: 'b', shards: 2, region: 'eu-west-1=x' },
  })
  assertEquals(load({ argv: ['--postgres-url', URL, '--writer-module', 'https://example.com/w.js', '--allow-remote-writer-module'] }).writer, {
    type: 'module',
    path: 'https://example.com/w.js',
    options: {},
    allowRemote: true,
  })
  assertEquals(problems({ argv: ['--postgres-url', URL, '--writer', 'stdout', '--file', 'x'] }), [
    'writer.type: --file needs writer type "file", but --writer is "stdout"',
  ])
  assertEquals(problems({ argv: ['--postgres-url', URL, '--file', 'x', '--writer-module', 'y'] }), [
    'writer: --file and --writer-module both choose a writer; give only one',
  ])
  assertEquals(problems({ argv: ['--postgres-url', URL, '--file', 'x', '--writer-option', 'a=b'] }), [
    'writer.options: --writer-option apply only to writer type "module", not "file"',
  ])
  assertEquals(problems({ argv: ['--postgres-url', URL, '--writer', 'kinesis-typo'] }), [
    'writer.type: expected "stdout", "file", "module", "kafka" or "kinesis", got "kinesis-typo"',
  ])
  assertEquals(problems({ env: { [ENV.url]: URL, [ENV.writer]: 'module' } }), [
    'writer.path: required for writer type "module"; set --writer-module, PG_TO_BROKERS_WRITER_MODULE, or writer.path in the config file',
  ])
})

test('config: booleans from the environment and from flags', () => {
  const drop = (value: string) => load({ env: { [ENV.url]: URL, [ENV.dropSlotOnExit]: value } }).postgres.dropSlotOnExit
  assertEquals([drop('true'), drop('1'), drop('TRUE'), drop(' false '), drop('0')], [true, true, true, false, false])
  assertEquals(problems({ env: { [ENV.url]: URL, [ENV.dropSlotOnExit]: 'yes' } }), [
    'postgres.dropSlotOnExit (PG_TO_BROKERS_DROP_SLOT_ON_EXIT): expected true, false, 1 or 0, got "yes"',
  ])
  const flags = load({ env: { [ENV.url]: URL }, argv: ['--no-create-slot', '--no-create-publication', '--drop-slot-on-exit'] }).postgres
  assertEquals([flags.createSlot, flags.createPublication, flags.dropSlotOnExit], [false, false, true])
  const back = load({ env: { [ENV.url]: URL, [ENV.dropSlotOnExit]: '1' }, argv: ['--no-drop-slot-on-exit', '--create-slot=false'] }).postgres
  assertEquals([back.dropSlotOnExit, back.createSlot], [false, false])
})

test('config: all problems from all sources are reported at once', () => {
  const found = problems({
    fileText: JSON.stringify({ postgres: { url: URL, slot: 'Bad' }, format: 'xml' }),
    filePath: 'pg.json',
    env: { [ENV.dropSlotOnExit]: 'maybe', [ENV.batchSize]: '0' },
    argv: ['--log-levl', 'debug', '--publication'],
  })
  assertEquals(found, [
    'postgres.dropSlotOnExit (PG_TO_BROKERS_DROP_SLOT_ON_EXIT): expected true, false, 1 or 0, got "maybe"',
    'unknown flag --log-levl; did you mean --log-level? (see --help)',
    '--publication: missing value (usage: --publication <name>)',
    `postgres.slot: ${SLOT_EXPECTED}, got "Bad"`,
    'batch.maxRecords: expected an integer from 1 to 100000, got 0',
    'format: expected "classic" (also called "seed") or "debezium", got "xml"',
  ])
})

test('args: commands, --flag=value, and help or version winning over problems', () => {
  assertEquals(parseArgs([]), { command: 'help', flags: {} })
  assertEquals(parseArgs(['help']), { command: 'help', flags: {} })
  assertEquals(parseArgs(['version']), { command: 'version', flags: {} })
  assertEquals(parseArgs(['run']), { command: 'run', flags: {} })
  assertEquals(parseArgs(['--bogus', '-h']).command, 'help')
  assertEquals(parseArgs(['--version', '--help']).command, 'help')
  assertEquals(parseArgs(['--version', '--slot']).command, 'version')
  assertEquals(parseArgs(['--config', 'pg.json', '--slot=a=b', '--tables=', '--batch-size', '5', '--format', 'debezium']), {
    command: 'run',
    configPath: 'pg.json',
    flags: { postgres: { slot: 'a=b', tables: [] }, batch: { maxRecords: 5 }, format: 'debezium' },
  })
})

test('help: names every flag, the environment variables and what the database needs', () => {
  for (const flag of KNOWN_FLAGS) assert(HELP_TEXT.includes(flag), `help mentions ${flag}`)
  for (const name of Object.values(ENV)) assert(HELP_TEXT.includes(name), `help mentions ${name}`)
  for (const words of ['wal_level = logical', 'REPLICATION', 'SIGINT', 'SIGTERM', 'status 0', 'durably delivered', 'USER:PASSWORD']) {
    assert(HELP_TEXT.includes(words), `help mentions ${words}`)
  }
  assert(HELP_TEXT.includes('pg-to-brokers run --postgres-url postgres://user@127.0.0.1:5432/app --slot app_cdc --publication app_cdc'))
  // The only credentials shown are placeholders.
  assertEquals([...new Set(HELP_TEXT.match(/:\/\/[^\s/@]*:[^\s/@]*@/g))], ['://USER:PASSWORD@'])
})
