/**
 * @module Which writer one source (flags or environment) asks for: each registered writer's settings
 * set its section, and a setting that chooses a type implies it; contradictions are problems.
 */
import { showValue } from '../fields.ts'
import { isSwitch, type WriterDescriptor, type WriterSection, type WriterSetting } from '../writers/descriptor.ts'
import { WRITERS } from '../writers/registry.ts'
import { booleanFromText, splitList } from './text.ts'

/** The writer as one source describes it, before deciding its type. */
export interface WriterChoice {
  type?: string | undefined
  /** What each writer type's settings set, by type. */
  readonly sections: Map<string, WriterSection>
  /** Every setting given, in order. */
  readonly given: { readonly writer: WriterDescriptor; readonly setting: WriterSetting }[]
}

/** How one source names its settings in messages. */
export interface SourceNames {
  /** What sets the type: "--writer" or PG_TO_BROKERS_WRITER. */
  readonly type: string
  readonly source: 'flags' | 'env'
}

export const FLAG_NAMES: SourceNames = { type: '--writer', source: 'flags' }

/** A setting as a message names it: its flag or variable, or for a type's choice, the type's group ("a --kafka-* flag"). */
function nameOf(writer: WriterDescriptor, setting: WriterSetting, source: SourceNames['source']): string {
  const own = (source === 'flags' ? setting.flag : setting.env) ?? setting.key
  return setting.choosesType === false ? own : (writer.groupNames?.[source] ?? own)
}

export const emptyChoice = (): WriterChoice => ({ sections: new Map(), given: [] })

/** Sets one writer setting from text (a flag's or variable's value) or a switch; returns a problem, if any. */
export function applySetting(choice: WriterChoice, writer: WriterDescriptor, setting: WriterSetting, value: string | boolean): string | undefined {
  const section = choice.sections.get(writer.type) ?? {}
  if (typeof value === 'string' && setting.apply !== undefined) {
    const problem = setting.apply(section, value)
    if (problem !== undefined) return problem
  } else setKey(section, setting.key, typeof value === 'string' && setting.list ? splitList(value) : value)
  choice.sections.set(writer.type, section)
  choice.given.push({ writer, setting })
  return undefined
}

/** The writer settings the environment gives; a bad boolean is a problem naming its variable. */
export function writerFromEnv(get: (name: string) => string | undefined, issues: string[]): WriterChoice {
  const choice = emptyChoice()
  for (const writer of WRITERS as readonly WriterDescriptor[]) {
    for (const setting of writer.settings) {
      const raw = setting.env === undefined ? undefined : get(setting.env)
      if (raw === undefined) continue
      const text = setting.trim ? raw.trim() : raw
      const on = isSwitch(setting) ? booleanFromText(text) : text
      if (on === undefined) issues.push(`writer.${setting.key} (${setting.env}): expected true, false, 1 or 0, got ${showValue(text)}`)
      else applySetting(choice, writer, setting, on)
    }
  }
  return choice
}

/**
 * Decides the writer one source asks for: a setting of a writer type (a file path, a Kafka broker)
 * implies that type. Contradictions within the source are problems; a later source may still
 * replace the section. After a contradiction, only what fits the chosen type is kept, so it is
 * not reported twice.
 */
export function writerOverride(choice: WriterChoice, names: SourceNames, issues: string[]): WriterSection | undefined {
  const choosers = new Map<string, string>()
  for (const { writer, setting } of choice.given) {
    if (setting.choosesType !== false && !choosers.has(writer.type)) choosers.set(writer.type, nameOf(writer, setting, names.source))
  }
  const ordered = WRITERS.map((writer) => writer.type as string).filter((type) => choosers.has(type))
  if (ordered.length > 1) {
    issues.push(`writer: ${ordered.map((type) => choosers.get(type)).join(' and ')} ${ordered.length === 2 ? 'both' : 'all'} choose a writer; give only one`)
  }
  const implied = ordered[0]
  if (choice.type !== undefined && implied !== undefined && choice.type !== implied) {
    issues.push(`writer.type: ${choosers.get(implied)} needs writer type "${implied}", but ${names.type} is ${showValue(choice.type)}`)
  }
  const chosen = choice.type ?? implied
  const misplaced = new Set<string>()
  for (const { writer, setting } of choice.given) {
    if (setting.choosesType !== false || chosen === undefined || chosen === writer.type || misplaced.has(setting.key)) continue
    misplaced.add(setting.key)
    issues.push(
      `writer.${setting.key}: ${nameOf(writer, setting, names.source)} ${setting.plural ? 'apply' : 'applies'} only to writer type ` +
        `"${writer.type}", not ${showValue(chosen)}`,
    )
  }
  const writer: WriterSection = chosen === undefined ? {} : { type: chosen }
  for (const [type, section] of choice.sections) if (chosen === undefined || type === chosen) Object.assign(writer, section)
  return Object.keys(writer).length > 0 ? writer : undefined
}

/** Sets `key` ("sasl.mechanism" for a nested one) in a section. */
function setKey(section: WriterSection, key: string, value: unknown): void {
  const [head, ...rest] = key.split('.')
  if (head === undefined) return
  if (rest.length === 0) section[head] = value
  else {
    const inner = { ...(section[head] as WriterSection | undefined) }
    setKey(inner, rest.join('.'), value)
    section[head] = inner
  }
}
