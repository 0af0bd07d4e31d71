/** @module The logging contract the core writes to; the CLI supplies a stderr logger, libraries their own. */

export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>

/** Messages and fields never carry secrets: the core passes only names, positions and counts. */
export interface Logger {
  error(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  debug(message: string, fields?: LogFields): void
}

export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} }
