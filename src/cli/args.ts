/** @module Command-line parsing: argv to a command, a config file path and configuration overrides. */
import { ConfigError, closestMatch, showValue, type ConfigOverrides } from '../config/schema.ts'
import type { KafkaOverrides } from '../config/kafka.ts'
import { KAFKA_SWITCHES, KAFKA_VALUE_FLAGS } from './kafka-args.ts'
import type { KinesisOverrides } from '../config/kinesis.ts'
import { KINESIS_SWITCHES, KINESIS_VALUE_FLAGS } from './kinesis-args.ts'

/** What the invocation asks for. */
export type Command = 'run' | 'help' | 'version'

/** The result of parsing argv. `flags` holds only what the flags set; the schema checks the values later. */
export interface ParsedArgs {
  command: Command
  configPath?: string
  flags: ConfigOverrides
}

type Postgres = NonNullable<ConfigOverrides['postgres']>
type Batch = NonNullable<ConfigOverrides['batch']>

/** The writer as one source (flags or environment) describes it, before deciding its type. */
export interface WriterChoice {
  type?: string | undefined
  file?: string | undefined
  module?: string | undefined
  options?: Record<string, string> | undefined
  /** Consent to run a remote (http:, https:, npm:, jsr:) writer module. */
  allowRemote?: boolean | undefined
  /** Kafka settings; any of them implies writer type "kafka". */
  kafka?: KafkaOverrides | undefined
  /** Kinesis settings; any of them implies writer type "kinesis". */
  kinesis?: KinesisOverrides | undefined
}

interface Draft {
  configPath?: string
  postgres: Postgres
  writer: WriterChoice
  batch: Batch
  format?: string
  logLevel?: string
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
  ['--writer', value('<stdout|file|module|kafka|kinesis>', (d, x) => void (d.writer.type = x))],
  ['--file', value('<path>', (d, x) => void (d.writer.file = x))],
  ['--writer-module', value('<path>', (d, x) => void (d.writer.module = x))],
  ['--writer-option', value('<key=value>', setWriterOption)],
  ['--allow-remote-writer-module', { kind: 'switch', set: (d, on) => void (d.writer.allowRemote = on) }],
  ['--batch-size', value('<n>', (d, x) => void (d.batch.maxRecords = numberFromText(x)))],
  ['--max-batch-latency-ms', value('<n>', (d, x) => void (d.batch.maxLatencyMs = numberFromText(x)))],
  ['--format', value('<seed|debezium>', (d, x) => void (d.format = x))],
  ['--log-level', value('<level>', (d, x) => void (d.logLevel = x))],
  ['--help', { kind: 'command', command: 'help' }],
  ['-h', { kind: 'command', command: 'help' }],
  ['--version', { kind: 'command', command: 'version' }],
])
for (const [name, arg, set] of KAFKA_VALUE_FLAGS) FLAGS.set(name, value(arg, (d, x) => void set((d.writer.kafka ??= {}), x)))
for (const [name, set] of KAFKA_SWITCHES) FLAGS.set(name, { kind: 'switch', set: (d, on) => set((d.writer.kafka ??= {}), on) })
for (const [name, arg, set] of KINESIS_VALUE_FLAGS) FLAGS.set(name, value(arg, (d, x) => void set((d.writer.kinesis ??= {}), x)))
for (const [name, set] of KINESIS_SWITCHES) FLAGS.set(name, { kind: 'switch', set: (d, on) => set((d.writer.kinesis ??= {}), on) })
for (const [name, flag] of [...FLAGS]) {
  if (flag.kind === 'switch') FLAGS.set(name.replace(/^--/, '--no-'), { ...flag, negated: true })
}

/** Every flag parseArgs accepts, including the --no- forms. */
export const KNOWN_FLAGS: readonly string[] = [...FLAGS.keys()]
// Suggestions come from the long names only: "-h" is too short to be a useful guess.
const FLAG_NAMES = KNOWN_FLAGS.filter((name) => name.startsWith('--'))
const COMMANDS: readonly Command[] = ['run', 'help', 'version']

function setWriterOption(draft: Draft, text: string): string | undefined {
  const eq = text.indexOf('=')
  if (eq <= 0) return `expected key=value, got ${showValue(text)}`
  draft.writer.options = { ...draft.writer.options, [text.slice(0, eq)]: text.slice(eq + 1) }
  return undefined
}

/** Parses argv (without the program name). Throws ConfigError listing every problem, unless help or version was asked for. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const { issues, ...parsed } = scanArgs(argv)
  if (issues.length > 0 && parsed.command === 'run') throw new ConfigError(issues)
  return parsed
}

/** Like parseArgs, but returns the problems instead of throwing, so loadConfig can report them with the rest. */
export function scanArgs(argv: readonly string[]): ParsedArgs & { issues: string[] } {
  const draft: Draft = { postgres: {}, writer: {}, batch: {} }
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
  return { command: asked ?? command ?? (sawFlag ? 'run' : 'help'), ...withPath(draft.configPath), flags, issues }
}

/** Applies the flag at argv[i]; returns the index of the last argument it consumed. */
function applyFlag(argv: readonly string[], i: number, draft: Draft, issues: string[]): { last: number; asked?: Command } {
  const arg = argv[i] ?? ''
  const eq = arg.indexOf('=')
  const name = eq === -1 ? arg : arg.slice(0, eq)
  const inline = eq === -1 ? undefined : arg.slice(eq + 1)
  const flag = FLAGS.get(name)
  if (flag === undefined) {
    const guess = closestMatch(name, FLAG_NAMES)
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
  const names = { type: '--writer', file: '--file', module: '--writer-module', options: '--writer-option', allowRemote: '--allow-remote-writer-module', kafka: 'a --kafka-* flag', kinesis: 'a --kinesis-* flag' }
  const writer = writerOverride(draft.writer, names, issues)
  if (writer !== undefined) flags.writer = writer
  if (Object.keys(draft.batch).length > 0) flags.batch = draft.batch
  if (draft.format !== undefined) flags.format = draft.format
  if (draft.logLevel !== undefined) flags.logLevel = draft.logLevel
  return flags
}

// ---- text forms shared by flags and environment variables ------------------------------------

/** How one source names its writer settings, for messages. */
export interface WriterNames {
  type: string
  file: string
  module: string
  options?: string
  allowRemote?: string
  kafka?: string
  kinesis?: string
}

/**
 * Decides the writer one source asks for: a file path implies the file writer and a module path the
 * module writer. Contradictions within the source are problems; a later source may still replace it.
 */
export function writerOverride(choice: WriterChoice, names: WriterNames, issues: string[]): ConfigOverrides['writer'] {
  const { type, file, module, options, allowRemote, kafka, kinesis } = choice
  const kafkaNames = names.kafka ?? 'Kafka settings'
  const kinesisNames = names.kinesis ?? 'Kinesis settings'
  const choosers = [[file, names.file], [module, names.module], [kafka, kafkaNames], [kinesis, kinesisNames]].filter(([set]) => set !== undefined)
  if (choosers.length > 1) {
    const all = choosers.length === 2 ? 'both' : 'all'
    issues.push(`writer: ${choosers.map(([, name]) => name).join(' and ')} ${all} choose a writer; give only one`)
  }
  const implied = file !== undefined ? 'file' : module !== undefined ? 'module' : kafka !== undefined ? 'kafka' : kinesis !== undefined ? 'kinesis' : undefined
  if (type !== undefined && implied !== undefined && type !== implied) {
    const by = implied === 'file' ? names.file : implied === 'module' ? names.module : implied === 'kafka' ? kafkaNames : kinesisNames
    issues.push(`writer.type: ${by} needs writer type "${implied}", but ${names.type} is ${showValue(type)}`)
  }
  const chosen = type ?? implied
  if (options !== undefined && chosen !== undefined && chosen !== 'module') {
    const what = names.options ?? 'writer options'
    issues.push(`writer.options: ${what} apply only to writer type "module", not ${showValue(chosen)}`)
  }
  // After a contradiction (already reported) keep only what fits the chosen type, so it is not reported twice.
  const writer: NonNullable<ConfigOverrides['writer']> = {}
  if (chosen !== undefined) writer.type = chosen
  const path = chosen === 'file' ? file : chosen === 'module' ? module : undefined
  if (path !== undefined) writer.path = path
  if (options !== undefined && (chosen ?? 'module') === 'module') writer.options = options
  if (allowRemote !== undefined && chosen !== undefined && chosen !== 'module') {
    issues.push(`writer.allowRemote: ${names.allowRemote ?? 'allowing a remote module'} applies only to writer type "module", not ${showValue(chosen)}`)
  } else if (allowRemote !== undefined) writer.allowRemote = allowRemote
  if (kafka !== undefined && chosen === 'kafka') Object.assign(writer, kafka)
  if (kinesis !== undefined && chosen === 'kinesis') Object.assign(writer, kinesis)
  return Object.keys(writer).length > 0 ? writer : undefined
}

/** Splits "a, b" into ["a", "b"]; commas inside double-quoted identifiers stay. Empty text means no tables. */
export function splitList(text: string): string[] {
  const items: string[] = []
  let current = ''
  let quoted = false
  for (const ch of text) {
    if (ch === '"') quoted = !quoted
    if (ch === ',' && !quoted) {
      items.push(current)
      current = ''
    } else current += ch
  }
  items.push(current)
  return items.map((item) => item.trim()).filter((item) => item !== '')
}

/** Decimal text becomes a number; anything else stays text so the schema can report it as given. */
export function numberFromText(text: string): number | string {
  return /^\s*[+-]?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : text
}

/** true/false/1/0 (any case); undefined for anything else. */
export function booleanFromText(text: string): boolean | undefined {
  const word = text.trim().toLowerCase()
  return word === 'true' || word === '1' ? true : word === 'false' || word === '0' ? false : undefined
}
