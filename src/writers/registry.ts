/** @module The writer types, each registered once here, and the factory that builds the configured one. */
import type * as v from 'valibot'
import type { Logger } from '../logger.ts'
import { fileWriter, moduleWriter, stdoutWriter } from './builtin.ts'
import type { WriterDescriptor, WriterSchema } from './descriptor.ts'
import { kafkaWriter } from './kafka/descriptor.ts'
import { kinesisWriter } from './kinesis/descriptor.ts'
import type { StreamWriter } from './writer.ts'

/** Every writer type, in the order help and messages list them. A new writer adds one line. */
export const WRITERS = [stdoutWriter, fileWriter, moduleWriter, kafkaWriter, kinesisWriter] as const

/** The schemas of WRITERS' config sections, as a tuple (for valibot's variant). */
export const WRITER_SCHEMAS = WRITERS.map((writer) => writer.schema) as unknown as SchemasOf<typeof WRITERS>

type SchemasOf<T extends readonly unknown[]> = { -readonly [K in keyof T]: T[K] extends { readonly schema: infer S } ? S : never }

/** A validated writer section: one of the registered types, with every default filled in. */
export type WriterConfig = v.InferOutput<(typeof WRITERS)[number]['schema']>

/** The registered writer of a type, if there is one. */
export function writerDescriptor(type: unknown): WriterDescriptor<WriterSchema> | undefined {
  return (WRITERS as readonly WriterDescriptor[]).find((writer) => writer.type === type)
}

/**
 * Builds the writer `config` describes; broker writers and user modules are imported only now.
 * @throws PgToBrokersError when a writer module cannot be loaded, does not export a StreamWriter,
 * or is remote without `allowRemote`, or when a writer's options are unusable.
 */
export async function createWriter(config: WriterConfig, resolveModule: (path: string) => string, logger?: Logger): Promise<StreamWriter> {
  const descriptor = writerDescriptor(config.type)
  if (descriptor === undefined) throw new TypeError(`unknown writer type ${JSON.stringify(config.type)}`)
  return descriptor.create(config, { resolveModule, logger })
}
