/** @module Loads the configuration from a JSON file, environment variables and flags (later wins), checked by ConfigSchema. */
import * as v from 'valibot'
import { writerDescriptor } from '../writers/registry.ts'
import { readEnv } from './env.ts'
import { scanArgs } from './flags.ts'
import { joinPath } from '../fields.ts'
import { ConfigError, ConfigSchema, DEPRECATED_NAMES, describeIssues, type Config } from './schema.ts'

export { ConfigError }
export { ENV } from './env.ts'
export type { Config }

/** Everything loadConfig reads, handed in by the CLI so this module needs no runtime-specific API. */
export interface ConfigSources {
  /** The config file's text, if there is one. */
  fileText?: string
  /** The config file's path, used in messages. */
  filePath?: string
  env: Record<string, string | undefined>
  /** Arguments after the program name. */
  argv: readonly string[]
  /** Told each old setting name that was used, with its new name (the config still works). */
  deprecated?: (notice: string) => void
}

/**
 * Merges config file < environment < flags and validates the result.
 * Throws ConfigError listing every problem found in any source.
 */
export function loadConfig(sources: ConfigSources): Config {
  const issues: string[] = []
  const file = readFile(sources.fileText, sources.filePath, issues)
  const env = readEnv(sources.env, issues)
  const args = scanArgs(sources.argv)
  issues.push(...args.issues)
  const merged = withFallbacks(merge(merge(file ?? {}, env, ''), args.flags, ''), sources.env)
  const result = v.safeParse(ConfigSchema, merged)
  if (!result.success) {
    // With an unreadable file, "required" complaints are most likely about what the file would have set.
    const relevant = file === undefined ? result.issues.filter((issue) => issue.input !== undefined) : result.issues
    issues.push(...describeIssues(relevant))
  }
  if (result.success) issues.push(...(writerDescriptor(result.output.writer.type)?.problems?.(result.output.writer) ?? []))
  const oldNames = DEPRECATED_NAMES.filter(([old]) => valueAt(merged, old) !== undefined)
  for (const [old, current] of oldNames) if (valueAt(merged, current) !== undefined) issues.push(`${old}: the old name of ${current}; give only ${current}`)
  if (!result.success || issues.length > 0) throw new ConfigError([...new Set(issues)])
  for (const [old, current] of oldNames) sources.deprecated?.(`${old} is deprecated: call it ${current} (the old name still works)`)
  return result.output
}

/** Lets the chosen writer fill in what the environment gives only as a fallback (e.g. AWS_REGION for Kinesis). */
function withFallbacks(merged: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  if (!isTree(merged) || !isTree(merged.writer)) return merged
  const writer = writerDescriptor(merged.writer.type)
  if (writer?.fallback === undefined) return merged
  return { ...merged, writer: writer.fallback(merged.writer, env) }
}

/** The value at a dotted path of the merged tree, if any. */
function valueAt(tree: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (isTree(node) ? own(node, key) : undefined), tree)
}

// ---- sources -------------------------------------------------------------------------------

/** The file's top-level object: {} without a file, undefined (with an issue) when it cannot be used. */
function readFile(text: string | undefined, path: string | undefined, issues: string[]): Tree | undefined {
  if (text === undefined) return {}
  const name = `config file ${path ?? '(unnamed)'}`
  const json = text.replace(/^\uFEFF/, '')
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    // Runtimes word JSON errors differently and some quote the text (which may hold a password), so locate it ourselves.
    const error = locateJsonError(json)
    const { line, column } = lineAndColumn(json, error.at)
    const end = error.at >= json.length ? ' (end of file)' : ''
    issues.push(`${name}: invalid JSON at line ${line}, column ${column}${end}: expected ${error.expected}`)
    return undefined
  }
  if (isTree(parsed)) return parsed
  issues.push(`${name}: expected a JSON object ({ ... }) at the top level`)
  return undefined
}

// ---- merging -------------------------------------------------------------------------------

type Tree = Record<string, unknown>

const isTree = (value: unknown): value is Tree => typeof value === 'object' && value !== null && !Array.isArray(value)
const own = (tree: Tree, key: string): unknown => (Object.hasOwn(tree, key) ? tree[key] : undefined)

/** Deep-merges `higher` over `lower`: objects merge key by key, anything else (arrays too) replaces. */
function merge(lower: unknown, higher: unknown, path: string): unknown {
  if (higher === undefined) return lower
  if (!isTree(lower) || !isTree(higher)) return higher
  // Choosing another writer type starts the writer section afresh, so e.g. a file writer's fsync cannot leak into stdout.
  if (path === 'writer' && lower.type !== undefined && higher.type !== undefined && lower.type !== higher.type) return higher
  const merged: Tree = {}
  for (const key of new Set([...Object.keys(lower), ...Object.keys(higher)])) {
    // defineProperty, so a "__proto__" key from JSON stays a plain (and then rejected) key.
    const value = merge(own(lower, key), own(higher, key), joinPath(path, key))
    Object.defineProperty(merged, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return merged
}

// ---- JSON error position -------------------------------------------------------------------

class JsonSyntax {
  constructor(
    readonly at: number,
    readonly expected: string,
  ) {}
}

const JSON_SCALAR = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y
const JSON_STRING_BODY = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*/y

/** Finds the first syntax error in text that JSON.parse rejected: its offset and what was expected there. */
function locateJsonError(text: string): JsonSyntax {
  const scanner = new JsonScanner(text)
  try {
    scanner.document()
  } catch (error) {
    if (error instanceof JsonSyntax) return error
    throw error
  }
  return new JsonSyntax(0, 'valid JSON')
}

/** A recursive-descent JSON recogniser that throws JsonSyntax at the first error. */
class JsonScanner {
  private i = 0
  constructor(private readonly text: string) {}

  document(): void {
    this.value()
    this.space()
    if (this.i < this.text.length) this.fail('the end of the file')
  }

  private value(): void {
    this.space()
    const c = this.text[this.i]
    if (c === '{') return this.list('}', () => this.member())
    if (c === '[') return this.list(']', () => this.value())
    if (c === '"') return this.string()
    if (!this.sticky(JSON_SCALAR)) this.fail('a value')
  }

  private member(): void {
    this.space()
    if (this.text[this.i] !== '"') this.fail('a "quoted" key')
    this.string()
    this.space()
    if (this.text[this.i] !== ':') this.fail('":"')
    this.i++
    this.value()
  }

  private list(close: string, item: () => void): void {
    this.i++
    this.space()
    if (this.text[this.i] === close) return void this.i++
    for (;;) {
      item()
      this.space()
      if (this.text[this.i] === close) return void this.i++
      if (this.text[this.i] !== ',') this.fail(`"," or "${close}"`)
      this.i++
    }
  }

  private string(): void {
    this.sticky(JSON_STRING_BODY)
    if (this.text[this.i] === '"') return void this.i++
    if (this.i >= this.text.length) this.fail('a closing "')
    this.fail(this.text[this.i] === '\\' ? 'a valid escape such as \\n or \\u0041' : 'a closing " (escape control characters)')
  }

  private space(): void {
    while (' \t\n\r'.includes(this.text[this.i] || 'x')) this.i++
  }

  private sticky(pattern: RegExp): boolean {
    pattern.lastIndex = this.i
    const matched = pattern.test(this.text)
    if (matched) this.i = pattern.lastIndex
    return matched
  }

  private fail(expected: string): never {
    throw new JsonSyntax(this.i, expected)
  }
}

function lineAndColumn(text: string, at: number): { line: number; column: number } {
  const before = text.slice(0, at)
  return { line: before.split('\n').length, column: at - before.lastIndexOf('\n') }
}
