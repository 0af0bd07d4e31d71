/** @module Loads a user's writer module: its default export is a StreamWriter subclass or a function returning a writer. */
import { PgToBrokersError } from '../errors.ts'
import { importModule } from '../runtime/io.ts'
import { StreamWriter } from './writer.ts'

/**
 * A writer module's default export is either a StreamWriter subclass (constructed with the
 * options) or a function returning a StreamWriter (or a promise of one).
 */
export async function loadWriterModule(specifier: string, shownPath: string, options: Readonly<Record<string, unknown>>): Promise<StreamWriter> {
  let module: { default?: unknown }
  try {
    module = (await importModule(specifier)) as { default?: unknown }
  } catch (error) {
    throw new PgToBrokersError('writer_module', `cannot load writer module "${shownPath}": ${(error as Error).message}`, { cause: error })
  }
  const exported = module.default
  if (typeof exported !== 'function') {
    throw new PgToBrokersError(
      'writer_module',
      `writer module "${shownPath}" has no default export: export a StreamWriter subclass or a function returning one`,
    )
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
