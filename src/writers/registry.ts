/** @module Creates the configured writer; broker writers and user modules are imported only when chosen. */
import { PgToBrokersError } from '../errors.ts'
import { importModule } from '../runtime/io.ts'
import { FileWriter } from './file.ts'
import { isRemoteModule, REMOTE_MODULE_CONSENT } from './remote-module.ts'
import { StdoutWriter } from './stdout.ts'
import { StreamWriter } from './writer.ts'
import type { KafkaWriterOptions } from './kafka/options.ts'
import type { KinesisWriterOptions } from './kinesis/options.ts'
import type { Logger } from '../logger.ts'

export type WriterConfig =
  | { readonly type: 'stdout' }
  | { readonly type: 'file'; readonly path: string; readonly fsync: boolean }
  | {
      readonly type: 'module'
      readonly path: string
      readonly options: Readonly<Record<string, unknown>>
      /** Run an `http:`, `https:`, `npm:` or `jsr:` module (code fetched at start). Default false. */
      readonly allowRemote?: boolean | undefined
    }
  | ({ readonly type: 'kafka' } & KafkaWriterOptions)
  | ({ readonly type: 'kinesis' } & KinesisWriterOptions)

/**
 * @throws PgToBrokersError when a writer module cannot be loaded, does not export a StreamWriter,
 * or is remote without `allowRemote`.
 */
export async function createWriter(config: WriterConfig, resolveModule: (path: string) => string, logger?: Logger): Promise<StreamWriter> {
  switch (config.type) {
    case 'stdout':
      return new StdoutWriter()
    case 'file':
      return new FileWriter({ path: config.path, fsync: config.fsync })
    case 'module':
      if (isRemoteModule(config.path) && config.allowRemote !== true) {
        throw new PgToBrokersError('writer_module_remote', `writer module "${config.path.replace(/:\/\/[^\s/@]*@/, '://***@')}" is remote: ${REMOTE_MODULE_CONSENT}`)
      }
      return loadWriterModule(resolveModule(config.path), config.path, config.options)
    case 'kafka': {
      // Imported only now, so the Kafka client is loaded (and bundled) only for those who use it.
      const { KafkaWriter } = await import('./kafka/mod.ts')
      return new KafkaWriter({ ...config, logger })
    }
    case 'kinesis': {
      // Imported only now, so Kinesis code (signing, MD5, aggregation, credentials) loads only for those who use it.
      const { KinesisWriter } = await import('./kinesis/mod.ts')
      const { type: _, ...options } = config
      return new KinesisWriter({ ...options, logger })
    }
  }
}

/**
 * A writer module's default export is either a StreamWriter subclass (constructed with the
 * options) or a function returning a StreamWriter (or a promise of one).
 */
async function loadWriterModule(specifier: string, shownPath: string, options: Readonly<Record<string, unknown>>): Promise<StreamWriter> {
  let module: { default?: unknown }
  try {
    module = (await importModule(specifier)) as { default?: unknown }
  } catch (error) {
    throw new PgToBrokersError('writer_module', `cannot load writer module "${shownPath}": ${(error as Error).message}`, { cause: error })
  }
  const exported = module.default
  if (typeof exported !== 'function') {
    throw new PgToBrokersError('writer_module', `writer module "${shownPath}" has no default export: export a StreamWriter subclass or a function returning one`)
  }
  const writer: unknown = isWriterClass(exported)
    ? new (exported as new (options: Readonly<Record<string, unknown>>) => unknown)(options)
    : await (exported as (options: Readonly<Record<string, unknown>>) => unknown)(options)
  if (!isWriter(writer)) {
    throw new PgToBrokersError('writer_module', `writer module "${shownPath}" did not produce a writer: it needs publish(records) (extend StreamWriter)`)
  }
  return writer instanceof StreamWriter ? writer : new ForeignWriter(writer)
}

/** Adapts a writer built against another copy of this library (e.g. a bundled one) to this copy's base class. */
class ForeignWriter extends StreamWriter {
  readonly #inner: Partial<StreamWriter> & Pick<StreamWriter, 'publish'>

  constructor(inner: Partial<StreamWriter> & Pick<StreamWriter, 'publish'>) {
    super()
    this.#inner = inner
  }

  override async init(): Promise<void> {
    await this.#inner.init?.()
  }

  override publish(records: Parameters<StreamWriter['publish']>[0]): Promise<void> {
    return this.#inner.publish(records)
  }

  override assignChangeToPartitionKey(change: Parameters<StreamWriter['assignChangeToPartitionKey']>[0]): string {
    return this.#inner.assignChangeToPartitionKey ? this.#inner.assignChangeToPartitionKey(change) : super.assignChangeToPartitionKey(change)
  }

  override async close(): Promise<void> {
    await this.#inner.close?.()
  }
}

function isWriterClass(value: Function): boolean {
  return value.prototype instanceof StreamWriter || typeof (value.prototype as { publish?: unknown } | undefined)?.publish === 'function'
}

/** Duck-typed: a module may bundle its own copy of StreamWriter, so instanceof alone is not enough. */
function isWriter(value: unknown): value is Partial<StreamWriter> & Pick<StreamWriter, 'publish'> {
  const candidate = value as Partial<StreamWriter> | null
  return typeof candidate?.publish === 'function'
}
