/** @module Command-line arguments as configuration overrides: the flags, the command word and the config file path. */
import { closestMatch, showValue } from '../fields.ts'
import { isSwitch, type WriterDescriptor } from '../writers/descriptor.ts'
import { WRITERS } from '../writers/registry.ts'
import type { ConfigOverrides } from './schema.ts'
import { booleanFromText, numberFromText, splitList } from './text.ts'
import { applySetting, emptyChoice, FLAG_NAMES, writerOverride, type WriterChoice } from './writer-choice.ts'

/** What the invocation asks for. */
export type Command = 'run' | 'snapshot' | 'status' | 'help' | 'version'

/** What `snapshot` asks for: the tables (--tables, checked as postgres.tables), a filter for each, or a cancellation. */
export interface SnapshotArgs {
  tables: string[]
  where?: string
  cancel: boolean
}

/** The result of scanning argv. `flags` holds only what the flags set; the schema checks the values later. */
export interface ParsedArgs {
  command: Command
  configPath?: string
  flags: ConfigOverrides
  /** Present for the snapshot command. */
  snapshot?: SnapshotArgs
  /** Present for the status command: --json asks for one JSON object instead of the table. */
  status?: { json: boolean }
}

type Postgres = NonNullable<ConfigOverrides['postgres']>
type Batch = NonNullable<ConfigOverrides['batch']>
type Snapshot = NonNullable<ConfigOverrides['snapshot']>
type Lag = NonNullable<ConfigOverrides['lag']>

interface Draft {
  configPath?: string
  postgres: Postgres
  writer: WriterChoice
  batch: Batch
  snapshot: Snapshot
  lag: Lag
  /** The status command's own flag. */
  json?: boolean
  /** The snapshot command's own flags. */
  where?: string
  cancel?: boolean
  format?: string
  logLevel?: string
  logFormat?: string
  metricsListen?: string
  logProgressSeconds?: number | string
}

/** A flag taking a value; `set` returns a problem description, if any. */
interface ValueFlag {
  kind: 'value'
  arg: string
  set: (draft: Draft, value: string) => string | undefined
}
interface SwitchFlag {
  kind: 'switch'
  set: (draft: Draft, on: boolean) => void
  negated?: boolean
}
interface CommandFlag {
  kind: 'command'
  command: 'help' | 'version'
}
type Flag = ValueFlag | SwitchFlag | CommandFlag

const value = (arg: string, set: ValueFlag['set']): ValueFlag => ({ kind: 'value', arg, set })
const postgresSwitch = (key: 'createSlot' | 'acceptDataLoss' | 'createPublication' | 'dropSlotOnExit' | 'standby'): SwitchFlag => ({
  kind: 'switch',
  set: (draft, on) => void (draft.postgres[key] = on),
})

const FLAGS = new Map<string, Flag>([
  ['--config', value('<file>', (d, x) => void (d.configPath = x))],
  ['--postgres-url', value('<url>', (d, x) => void (d.postgres.url = x))],
  ['--slot', value('<name>', (d, x) => void (d.postgres.slot = x))],
  ['--publication', value('<name>', (d, x) => void (d.postgres.publication = x))],
  ['--tables', value('<t1,t2>', (d, x) => void (d.postgres.tables = splitList(x)))],
  ['--create-slot', postgresSwitch('createSlot')],
  ['--accept-data-loss', postgresSwitch('acceptDataLoss')],
  ['--state-table', value('<schema.table>', (d, x) => void (d.postgres.stateTable = x))],
  ['--message-prefixes', value('<p1,p2|*>', (d, x) => void (d.postgres.messagePrefixes = splitList(x)))],
  ['--create-publication', postgresSwitch('createPublication')],
  ['--drop-slot-on-exit', postgresSwitch('dropSlotOnExit')],
  ['--standby', postgresSwitch('standby')],
  ['--writer', value(`<${WRITERS.map((writer) => writer.type).join('|')}>`, (d, x) => void (d.writer.type = x))],
  ['--batch-size', value('<n>', (d, x) => void (d.batch.maxRecords = numberFromText(x)))],
  ['--max-batch-latency-ms', value('<n>', (d, x) => void (d.batch.maxLatencyMs = numberFromText(x)))],
  ['--batch-queue-depth', value('<n>', (d, x) => void (d.batch.queueDepth = numberFromText(x)))],
  ['--snapshot-mode', value('<mode>', (d, x) => void (d.snapshot.mode = x))],
  ['--snapshot-chunk-size', value('<n>', (d, x) => void (d.snapshot.chunkSize = numberFromText(x)))],
  ['--snapshot-parallel-tables', value('<n>', (d, x) => void (d.snapshot.parallelTables = numberFromText(x)))],
  ['--snapshot-tables', value('<t1,t2>', (d, x) => void (d.snapshot.tables = splitList(x)))],
  ['--snapshot-progress', value('<auto|bar|lines|off>', (d, x) => void (d.snapshot.progress = x))],
  ['--lag-warn-bytes', value('<n>', (d, x) => void (d.lag.warnBytes = numberFromText(x)))],
  ['--lag-warn-seconds', value('<n>', (d, x) => void (d.lag.warnSeconds = numberFromText(x)))],
  ['--lag-poll-seconds', value('<n>', (d, x) => void (d.lag.pollSeconds = numberFromText(x)))],
  ['--where', value('<sql>', (d, x) => void (d.where = x))],
  ['--format', value('<classic|debezium>', (d, x) => void (d.format = x))],
  ['--log-level', value('<level>', (d, x) => void (d.logLevel = x))],
  ['--log-format', value('<text|json>', (d, x) => void (d.logFormat = x))],
  ['--metrics-listen', value('<host:port>', (d, x) => void (d.metricsListen = x))],
  ['--log-progress-seconds', value('<n>', (d, x) => void (d.logProgressSeconds = numberFromText(x)))],
  ['--heartbeat-seconds', value('<n>', (d, x) => void (d.postgres.heartbeatSeconds = numberFromText(x)))],
  ['--help', { kind: 'command', command: 'help' }],
  ['-h', { kind: 'command', command: 'help' }],
  ['--version', { kind: 'command', command: 'version' }],
])
for (const writer of WRITERS as readonly WriterDescriptor[]) {
  for (const setting of writer.settings) {
    if (setting.flag === undefined) continue
    if (isSwitch(setting)) FLAGS.set(setting.flag, { kind: 'switch', set: (d, on) => void applySetting(d.writer, writer, setting, on) })
    else
      FLAGS.set(
        setting.flag,
        value(setting.arg ?? '<value>', (d, x) => applySetting(d.writer, writer, setting, x)),
      )
  }
}
for (const [name, flag] of [...FLAGS]) {
  if (flag.kind === 'switch') FLAGS.set(name.replace(/^--/, '--no-'), { ...flag, negated: true })
}
// Set after the --no- forms: "--no-cancel" would mean nothing.
FLAGS.set('--cancel', { kind: 'switch', set: (d, on) => void (d.cancel = on) })
FLAGS.set('--json', { kind: 'switch', set: (d, on) => void (d.json = on) })

/** Every flag the scanner accepts, including the --no- forms. */
export const KNOWN_FLAGS: readonly string[] = [...FLAGS.keys()]
// Suggestions come from the long names only: "-h" is too short to be a useful guess.
const LONG_FLAGS = KNOWN_FLAGS.filter((name) => name.startsWith('--'))
const COMMANDS: readonly Command[] = ['run', 'snapshot', 'status', 'help', 'version']

/** Scans argv (without the program name): the command, the config file path, the overrides, and every problem found. */
export function scanArgs(argv: readonly string[]): ParsedArgs & { issues: string[] } {
  const draft: Draft = { postgres: {}, writer: emptyChoice(), batch: {}, snapshot: {}, lag: {} }
  const issues: string[] = []
  let command: Command | undefined
  let asked: Command | undefined
  let sawFlag = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    if (!arg.startsWith('-') || arg === '-') {
      if (command === undefined && COMMANDS.includes(arg as Command)) command = arg as Command
      else issues.push(positionalProblem(arg, command))
      continue
    }
    const step = applyFlag(argv, i, draft, issues)
    if (step.asked === undefined) sawFlag = true
    else if (asked !== 'help') asked = step.asked
    i = step.last
  }
  const flags = overrides(draft, issues)
  const chosen = asked ?? command ?? (sawFlag ? 'run' : 'help')
  const snapshot = snapshotArgs(draft, chosen, issues)
  if (draft.json !== undefined && chosen !== 'status') issues.push('--json belongs to the status command (pg-to-brokers status --json)')
  const status = chosen === 'status' ? { status: { json: draft.json === true } } : {}
  return { command: chosen, ...withPath(draft.configPath), flags, ...(snapshot === undefined ? {} : { snapshot }), ...status, issues }
}

/** The snapshot command's request; its own flags given to another command are a problem. */
function snapshotArgs(draft: Draft, command: Command, issues: string[]): SnapshotArgs | undefined {
  if (command !== 'snapshot') {
    const belongs = (flag: string) => `${flag} belongs to the snapshot command (pg-to-brokers snapshot --tables … ${flag} …)`
    if (draft.where !== undefined) issues.push(belongs('--where'))
    if (draft.cancel !== undefined) issues.push(belongs('--cancel'))
    return undefined
  }
  const tables = draft.postgres.tables ?? []
  if (draft.cancel !== true && tables.length === 0) issues.push('snapshot: --tables is required (the tables to snapshot, e.g. --tables public.orders)')
  if (draft.cancel === true && draft.where !== undefined) issues.push('snapshot: --where cannot go with --cancel')
  if (draft.where?.trim() === '') issues.push('snapshot: --where is empty (leave it out to read every row)')
  return { tables, cancel: draft.cancel === true, ...(draft.where === undefined ? {} : { where: draft.where }) }
}

/** Applies the flag at argv[i]; returns the index of the last argument it consumed. */
function applyFlag(argv: readonly string[], i: number, draft: Draft, issues: string[]): { last: number; asked?: Command } {
  const arg = argv[i] ?? ''
  const eq = arg.indexOf('=')
  const name = eq === -1 ? arg : arg.slice(0, eq)
  const inline = eq === -1 ? undefined : arg.slice(eq + 1)
  const flag = FLAGS.get(name)
  if (flag === undefined) {
    const guess = closestMatch(name, LONG_FLAGS)
    issues.push(`unknown flag ${name}${guess === undefined ? '' : `; did you mean ${guess}?`} (see --help)`)
    // Skip what was probably its value, so it is not mistaken for a command word.
    const next = argv[i + 1]
    return { last: inline === undefined && next !== undefined && !next.startsWith('-') ? i + 1 : i }
  }
  if (flag.kind === 'command') {
    if (inline !== undefined) issues.push(`${name} takes no value`)
    return { last: i, asked: flag.command }
  }
  if (flag.kind === 'switch') {
    applySwitch(name, flag, inline, draft, issues)
    return { last: i }
  }
  const next = argv[i + 1]
  const text = inline ?? (next !== undefined && !next.startsWith('--') ? next : undefined)
  if (text === undefined) {
    issues.push(`${name}: missing value (usage: ${name} ${flag.arg})`)
    return { last: i }
  }
  const problem = flag.set(draft, text)
  if (problem !== undefined) issues.push(`${name}: ${problem}`)
  return { last: inline === undefined ? i + 1 : i }
}

function applySwitch(name: string, flag: SwitchFlag, inline: string | undefined, draft: Draft, issues: string[]): void {
  if (inline === undefined) return flag.set(draft, !flag.negated)
  const on = booleanFromText(inline)
  if (flag.negated) issues.push(`${name} takes no value`)
  else if (on === undefined) issues.push(`${name}: expected true, false, 1 or 0, got ${showValue(inline)}`)
  else flag.set(draft, on)
}

function positionalProblem(arg: string, command: Command | undefined): string {
  if (command !== undefined) return `unexpected argument ${showValue(arg)} after the command "${command}"`
  const guess = closestMatch(arg, COMMANDS)
  const hint = guess === undefined ? '' : `; did you mean ${guess}?`
  return `unknown command ${showValue(arg)}${hint} (commands: ${COMMANDS.join(', ')})`
}

const withPath = (configPath: string | undefined): { configPath?: string } => (configPath === undefined ? {} : { configPath })

function overrides(draft: Draft, issues: string[]): ConfigOverrides {
  const flags: ConfigOverrides = {}
  if (Object.keys(draft.postgres).length > 0) flags.postgres = draft.postgres
  const writer = writerOverride(draft.writer, FLAG_NAMES, issues)
  if (writer !== undefined) flags.writer = writer
  if (Object.keys(draft.batch).length > 0) flags.batch = draft.batch
  if (Object.keys(draft.snapshot).length > 0) flags.snapshot = draft.snapshot
  if (Object.keys(draft.lag).length > 0) flags.lag = draft.lag
  if (draft.format !== undefined) flags.format = draft.format
  if (draft.logLevel !== undefined) flags.logLevel = draft.logLevel
  if (draft.logFormat !== undefined) flags.logFormat = draft.logFormat
  if (draft.metricsListen !== undefined) flags.metrics = { listen: draft.metricsListen }
  if (draft.logProgressSeconds !== undefined) flags.logProgressSeconds = draft.logProgressSeconds
  return flags
}
