/** @module The `pg-to-brokers` command: parse arguments and config, build the writer, stream, exit. */
import { SeedFormat } from '../change/formats/seed.ts'
import { DebeziumFormat } from '../change/formats/debezium.ts'
import type { RecordFormat } from '../change/formats/format.ts'
import { loadConfig, ConfigError, type Config } from '../config/load.ts'
import { PgToBrokersError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { runSupervised } from '../pipeline/supervise.ts'
import { commandLine, environment, moduleSpecifier, onShutdownSignal, readTextFile, writeStderr, writeStdout } from '../runtime/io.ts'
import { VERSION } from '../version.ts'
import { createWriter } from '../writers/registry.ts'
import { parseArgs, type ParsedArgs, type SnapshotArgs } from './args.ts'
import { HELP_TEXT } from './help.ts'
import { stderrLogger } from './log.ts'
import { startMetricsListener, type MetricsListener } from './metrics-listener.ts'
import { snapshotCommand } from './snapshot-command.ts'
import { statusCommand } from './status-command.ts'

/** Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration or arguments. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

/** Runs the CLI and resolves with its exit code; never throws. */
export async function main(argv: readonly string[] = commandLine(), env: Record<string, string | undefined> = environment()): Promise<number> {
  let config: Config
  let args: ParsedArgs
  const deprecated: string[] = []
  try {
    args = parseArgs(argv)
    if (args.command === 'help') return (await writeStdout(HELP_TEXT.endsWith('\n') ? HELP_TEXT : HELP_TEXT + '\n'), EXIT_OK)
    if (args.command === 'version') return (await writeStdout(`pg-to-brokers ${VERSION}\n`), EXIT_OK)
    const fileText = args.configPath === undefined ? undefined : await readConfigFile(args.configPath)
    config = loadConfig({
      ...(fileText === undefined ? {} : { fileText, filePath: args.configPath! }),
      env,
      argv,
      deprecated: (notice) => deprecated.push(notice),
    })
  } catch (error) {
    return reportStartupError(error)
  }
  if (args.snapshot !== undefined) return await requestSnapshot(config, args.snapshot, deprecated)
  if (args.status !== undefined) return await showStatus(config, args.status.json, deprecated)
  return stream(config, deprecated)
}

/** The snapshot command: one request (or cancellation), then exit. */
async function requestSnapshot(config: Config, request: SnapshotArgs, deprecated: readonly string[]): Promise<number> {
  const logger = stderrLogger(config.logLevel, config.logFormat)
  for (const notice of deprecated) logger.warn(notice)
  try {
    await snapshotCommand(config, request, logger)
    return EXIT_OK
  } catch (error) {
    return reportFailure(logger, error)
  }
}

/** The status command: exit 0 when the slot is fine, 1 when it is missing, lost, or has a problem. */
async function showStatus(config: Config, json: boolean, deprecated: readonly string[]): Promise<number> {
  const logger = stderrLogger(config.logLevel, config.logFormat)
  for (const notice of deprecated) logger.warn(notice)
  try {
    return (await statusCommand(config, json)) ? EXIT_OK : EXIT_FAILURE
  } catch (error) {
    return reportFailure(logger, error)
  }
}

async function stream(config: Config, deprecated: readonly string[]): Promise<number> {
  const logger = stderrLogger(config.logLevel, config.logFormat)
  for (const notice of deprecated) logger.warn(notice)
  const controller = new AbortController()
  onShutdownSignal((signal) => {
    logger.info('stopping: flushing what was read and confirming it', { signal })
    controller.abort()
  })
  let listener: MetricsListener | undefined
  try {
    listener = await startMetricsListener(config, logger)
  } catch (error) {
    return reportStartupError(error)
  }
  try {
    const writer = await createWriter(config.writer, moduleSpecifier, logger)
    await runSupervised({
      postgres: config.postgres,
      writer,
      format: formatFor(config.format),
      batch: config.batch,
      snapshot: snapshotOptionsOf(config),
      progressSeconds: config.logProgressSeconds,
      lagAlarms: config.lag,
      metrics: listener?.metrics,
      onSlotSample: listener && ((sample) => listener!.metrics.recordSlotSample(sample)),
      logger,
      signal: controller.signal,
    })
    return EXIT_OK
  } catch (error) {
    return reportFailure(logger, error)
  } finally {
    await listener?.close()
  }
}

function reportFailure(logger: Logger, error: unknown): number {
  logger.error(error instanceof Error ? error.message : String(error), error instanceof PgToBrokersError ? { code: error.code } : {})
  return EXIT_FAILURE
}

/** JSON logs get snapshot progress as log lines: a bar redrawn on stderr would break the one-object-per-line stream. */
function snapshotOptionsOf(config: Config): Config['snapshot'] {
  return config.logFormat === 'json' && config.snapshot.progress === 'auto' ? { ...config.snapshot, progress: 'lines' } : config.snapshot
}

function formatFor(name: Config['format']): RecordFormat {
  return name === 'debezium' ? new DebeziumFormat() : new SeedFormat()
}

async function readConfigFile(path: string): Promise<string> {
  try {
    return await readTextFile(path)
  } catch (error) {
    // Runtimes word these differently; the common codes get one wording everywhere.
    const reasons: Record<string, string> = { ENOENT: 'no such file', EISDIR: 'it is a directory', EACCES: 'permission denied' }
    const reason = reasons[(error as { code?: string }).code ?? ''] ?? (error as Error).message
    throw new ConfigError([`config file ${path}: cannot read it (${reason})`])
  }
}

function reportStartupError(error: unknown): number {
  if (error instanceof ConfigError) {
    writeStderr(
      `pg-to-brokers: invalid configuration:\n${error.issues.map((issue) => `  - ${issue}`).join('\n')}\n` +
        `Run "pg-to-brokers --help" for the flags and their defaults.\n`,
    )
    return EXIT_USAGE
  }
  writeStderr(`pg-to-brokers: ${error instanceof Error ? error.message : String(error)}\n`)
  return EXIT_FAILURE
}
