/**
 * @module What a writer type registers, once, in registry.ts: the schema of its config section,
 * its flags and environment variables with their help lines, its cross-field checks and its factory.
 */
import type * as v from 'valibot'
import type { Logger } from '../logger.ts'
import type { StreamWriter } from './writer.ts'

/** The schema of a writer's config section: a strict object whose `type` is the writer's name. */
export type WriterSchema = v.GenericSchema<{ type: string }, { type: string }>

/** A writer section as flags or environment variables set it: text not yet checked by the schema. */
export type WriterSection = Record<string, unknown>

/** One flag and/or environment variable that sets a key of the writer section. */
export interface WriterSetting {
  /** The key it sets, dotted for a nested one ("sasl.mechanism"). */
  readonly key: string
  readonly flag?: string
  /** The value's usage, e.g. "<host:port,…>"; without it the flag is a switch and has a --no- form. */
  readonly arg?: string
  readonly env?: string
  /** Comma-separated text becomes a list. */
  readonly list?: boolean
  /** Environment text is trimmed first (other text is taken as it is: a password may begin or end with spaces). */
  readonly trim?: true
  /** Sets the section from text itself instead of `key = text`; returns a problem, if any. */
  readonly apply?: (section: WriterSection, text: string) => string | undefined
  /**
   * false: setting it does not choose the writer type (e.g. --writer-option); with another type
   * chosen it is reported as not applying. `plural` words that message ("apply", not "applies").
   */
  readonly choosesType?: false
  readonly plural?: true
  /** Help lines after the flag (or the variable, without a flag). */
  readonly help: readonly string[]
}

/** A flag without a value is a switch (true/false/1/0 in the environment); anything else is text. */
export const isSwitch = (setting: WriterSetting): boolean => setting.flag !== undefined && setting.arg === undefined

/** What a writer's factory gets besides its validated section. */
export interface WriterContext {
  /** Turns a module path from the config into an importable specifier. */
  readonly resolveModule: (path: string) => string
  readonly logger?: Logger | undefined
}

/** A writer type, as the config, the help and the registry see it. */
export interface WriterDescriptor<S extends WriterSchema = WriterSchema> {
  /** The `type` of its config section, e.g. "kafka". */
  readonly type: v.InferOutput<S>['type']
  readonly schema: S
  /** Flags and environment variables; any choosing one, set, implies this writer type. */
  readonly settings: readonly WriterSetting[]
  /** How messages name its settings when there are several, e.g. { flags: 'a --kafka-* flag', env: 'a PG_TO_BROKERS_KAFKA_* variable' }. */
  readonly groupNames?: { readonly flags: string; readonly env: string }
  /** A help section of its own (title line and closing notes); without it, its flags follow --writer. */
  readonly help?: { readonly title: string; readonly notes: readonly string[] }
  /** Section paths (below "writer") whose values are never shown in messages. */
  readonly secretPaths?: readonly string[]
  /** Fills in what the environment gives only as a fallback (e.g. AWS_REGION), before the schema checks the section. */
  fallback?(section: WriterSection, env: Readonly<Record<string, string | undefined>>): WriterSection
  /** Problems across fields of a validated section, as `writer.key: problem` lines. */
  problems?(section: v.InferOutput<S>): string[]
  /** Builds the writer; broker writers import their code only here, so it loads only when chosen. */
  create(section: v.InferOutput<S>, context: WriterContext): Promise<StreamWriter>
}

/** Declares a writer type; only checks the shape, so each descriptor keeps its own section type. */
export function defineWriter<S extends WriterSchema>(descriptor: WriterDescriptor<S>): WriterDescriptor<S> {
  return descriptor
}
