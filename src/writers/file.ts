/** @module Appends records as JSON lines to a file, fsynced before a batch counts as delivered. */
import { openAppendFile, type AppendFile } from '../runtime/io.ts'
import { PgToBrokersError } from '../errors.ts'
import { jsonLines, StreamWriter, type WriterRecord } from './writer.ts'

/** Defaults of the options, which the config's file writer section shares. */
export const FILE_DEFAULTS = { fsync: true } as const

export interface FileWriterOptions {
  readonly path: string
  /** Force each batch to disk before acknowledging it (default true). Off trades safety for speed. */
  readonly fsync?: boolean
}

/**
 * A batch counts as delivered once it is written and, with `fsync` (the default), forced to disk.
 * The file is created if missing, readable by its owner only (0600; an existing file keeps its
 * mode), and its directory is fsynced once after the creation, so the file itself survives a power
 * loss, not only the data in it.
 */
export class FileWriter extends StreamWriter {
  readonly #path: string
  readonly #fsync: boolean
  #file: AppendFile | undefined

  constructor(options: FileWriterOptions) {
    super()
    this.#path = options.path
    this.#fsync = options.fsync ?? FILE_DEFAULTS.fsync
  }

  override async init(): Promise<void> {
    try {
      this.#file = await openAppendFile(this.#path)
    } catch (error) {
      throw new PgToBrokersError('writer_file', `cannot open output file "${this.#path}" for appending: ${(error as Error).message}`, { cause: error })
    }
  }

  override async publish(records: readonly WriterRecord[]): Promise<void> {
    if (!this.#file) throw new PgToBrokersError('writer_not_ready', 'FileWriter.publish called before init')
    await this.#file.append(jsonLines(records))
    if (this.#fsync) await this.#file.sync()
  }

  override async close(): Promise<void> {
    await this.#file?.close()
    this.#file = undefined
  }
}
