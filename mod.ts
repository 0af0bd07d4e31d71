/**
 * @module pg_to_brokers: stream every committed PostgreSQL change, in commit order, to brokers,
 * confirming the replication slot only after the writer has durably delivered.
 */
export { runPipeline, type PipelineOptions, type PostgresOptions, type StreamingMode } from './src/pipeline/pipeline.ts'
export { StreamWriter, type WriterRecord } from './src/writers/writer.ts'
export { StdoutWriter } from './src/writers/stdout.ts'
export { FileWriter, type FileWriterOptions } from './src/writers/file.ts'
export type { Change, Operation, OldValues } from './src/change/change.ts'
export type { RelationSchema, RelationColumnSchema } from './src/change/relations.ts'
export type { RecordFormat } from './src/change/formats/format.ts'
export { SeedFormat } from './src/change/formats/seed.ts'
export type { BatchOptions } from './src/pipeline/batcher.ts'
export type { Logger, LogFields } from './src/logger.ts'
export { JsonText, type PgValue, type PgType } from './src/pg/values/types.ts'
export { UNCHANGED_TOAST } from './src/pg/pgoutput/messages.ts'
export { PgToBrokersError, type ErrorCode } from './src/errors.ts'
export { formatLsn, parseLsn, type Lsn } from './src/pg/lsn.ts'
export { DebeziumFormat } from './src/change/formats/debezium.ts'
export { runSupervised } from './src/pipeline/supervise.ts'
export { VERSION } from './src/version.ts'

// `deno run -A mod.ts run …` (and `bun mod.ts …`) runs the CLI; importing mod.ts does not.
if ((import.meta as ImportMeta & { main?: boolean }).main) {
  const { main } = await import('./src/cli/main.ts')
  const { exit } = await import('./src/runtime/io.ts')
  exit(await main())
}
