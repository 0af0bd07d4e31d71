/** @module A stderr logger for the CLI: one line per event, `time level message key=value …`. */
import type { LogFields, Logger } from '../logger.ts'
import { writeStderr } from '../runtime/io.ts'

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

export function stderrLogger(level: LogLevel): Logger {
  const emit = (at: LogLevel) => (message: string, fields?: LogFields) => {
    if (RANK[at] > RANK[level]) return
    let line = `${new Date().toISOString()} ${at} ${message}`
    for (const [key, value] of Object.entries(fields ?? {})) {
      if (value !== undefined) line += ` ${key}=${typeof value === 'string' && /[\s"=]/.test(value) ? JSON.stringify(value) : String(value)}`
    }
    writeStderr(line + '\n')
  }
  return { error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug') }
}
