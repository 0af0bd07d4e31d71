/** @module Command-line parsing for the CLI: the command to run, the config file path and the flags' overrides. */
import { scanArgs, type ParsedArgs } from '../config/flags.ts'
import { ConfigError } from '../config/schema.ts'

export { KNOWN_FLAGS, type Command, type ParsedArgs, type SnapshotArgs } from '../config/flags.ts'

/** Parses argv (without the program name). Throws ConfigError listing every problem, unless help or version was asked for. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const { issues, ...parsed } = scanArgs(argv)
  if (issues.length > 0 && (parsed.command === 'run' || parsed.command === 'snapshot' || parsed.command === 'status')) throw new ConfigError(issues)
  return parsed
}
