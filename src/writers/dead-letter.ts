/**
 * @module The dead-letter file shared by the broker writers: records a broker can never take, one
 * JSON line each, fsynced before the batch counts as delivered, so such a record is set aside, never lost.
 */
import { openAppendFile, type AppendFile } from '../runtime/io.ts'
import { PgToBrokersError, type ErrorCode } from '../errors.ts'

/** One line of the file. `data` is the record exactly as it would have been sent (UTF-8 text). */
export interface DeadLetter {
  readonly id: string
  readonly table: string | null
  readonly operation: string
  readonly partition_key: string
  /** The Kafka topic the record was meant for; absent for Kinesis. */
  readonly topic?: string
  /** The record's size as the broker counts it against its limit. */
  readonly bytes: number
  readonly reason: string
  readonly data: string
}

/** An append-only file of dead letters. Created readable by its owner only (0600), like every output file. */
export class DeadLetterFile {
  readonly path: string
  readonly #file: AppendFile

  private constructor(path: string, file: AppendFile) {
    this.path = path
    this.#file = file
  }

  /**
   * Opens (or creates) `path` for appending. `code` is the error code when that fails.
   * @throws PgToBrokersError when the file cannot be opened for appending.
   */
  static async open(path: string, code: ErrorCode = 'dead_letter'): Promise<DeadLetterFile> {
    try {
      return new DeadLetterFile(path, await openAppendFile(path))
    } catch (error) {
      throw new PgToBrokersError(code, `cannot open the dead-letter file "${path}" for appending: ${(error as Error).message}`, { cause: error })
    }
  }

  /** Appends the letters and forces them to disk; resolves only then. */
  async write(letters: readonly DeadLetter[]): Promise<void> {
    let text = ''
    for (const letter of letters) text += JSON.stringify(letter) + '\n'
    await this.#file.append(text)
    await this.#file.sync()
  }

  async close(): Promise<void> {
    await this.#file.close()
  }
}
