/**
 * @module A stderr logger for the CLI: one line per event, as text (`time level message key=value …`)
 * or as one JSON object (`{"time":…,"level":…,"message":…, …fields}`) for log shippers.
 */
import type { LogFields, Logger } from '../logger.ts'
import { writeStderr } from '../runtime/io.ts'

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'
export type LogFormat = 'text' | 'json'

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

/** Keys every JSON line has; a field of the same name is written as `field_<name>` instead of replacing it. */
const RESERVED_KEYS: ReadonlySet<string> = new Set(['time', 'level', 'message'])

/** Writes events at `level` and more severe to stderr, one line each, in `format`. */
export function stderrLogger(level: LogLevel, format: LogFormat = 'text'): Logger {
  const line = format === 'json' ? jsonLine : textLine
  const emit = (at: LogLevel) => (message: string, fields?: LogFields) => {
    if (RANK[at] > RANK[level]) return
    writeStderr(line(new Date().toISOString(), at, message, fields) + '\n')
  }
  return { error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug') }
}

/** `time level message key=value …`; a value with spaces, quotes or `=` is JSON-quoted. */
export function textLine(time: string, level: LogLevel, message: string, fields: LogFields = {}): string {
  let line = `${time} ${level} ${message}`
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) line += ` ${key}=${typeof value === 'string' && /[\s"=]/.test(value) ? JSON.stringify(value) : String(value)}`
  }
  return line
}

/** One JSON object: time, level and message first, then each defined field as its own key. */
export function jsonLine(time: string, level: LogLevel, message: string, fields: LogFields = {}): string {
  const entry: Record<string, string | number | boolean | null> = { time, level, message }
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue
    // A number that JSON cannot hold (NaN, Infinity) is kept as text rather than turned into null.
    const json = typeof value === 'number' && !Number.isFinite(value) ? String(value) : value
    // defineProperty, so a field called "__proto__" stays a plain key.
    Object.defineProperty(entry, RESERVED_KEYS.has(key) ? `field_${key}` : key, { value: json, enumerable: true, writable: true, configurable: true })
  }
  return JSON.stringify(entry)
}
