/**
 * @module The dead-letter file for records too large for Kinesis: one JSON line per record, fsynced
 * before the batch counts as delivered, so such a record is set aside, never lost.
 */
import { tableNameOf } from '../../change/change.ts'
import { openAppendFile, type AppendFile } from '../../runtime/io.ts'
import { PgToBrokersError } from '../../errors.ts'
import { KINESIS_MAX_RECORD_BYTES } from './limits.ts'
import type { Entry } from './plan.ts'

/** One line of the file. `data` is the record exactly as it would have been sent. */
export interface DeadLetter {
  readonly id: string
  readonly table: string | null
  readonly operation: string
  readonly partition_key: string
  readonly bytes: number
  readonly reason: string
  readonly data: string
}

const utf8 = new TextDecoder()

export class DeadLetterFile {
  readonly path: string
  readonly #file: AppendFile

  private constructor(path: string, file: AppendFile) {
    this.path = path
    this.#file = file
  }

  /** @throws PgToBrokersError when the file cannot be opened for appending. */
  static async open(path: string): Promise<DeadLetterFile> {
    try {
      return new DeadLetterFile(path, await openAppendFile(path))
    } catch (error) {
      throw new PgToBrokersError('kinesis_dead_letter', `cannot open the dead-letter file "${path}" for appending: ${(error as Error).message}`, { cause: error })
    }
  }

  /** Appends the records and forces them to disk. */
  async write(entries: readonly Entry[]): Promise<void> {
    let text = ''
    for (const entry of entries) {
      const letter: DeadLetter = {
        id: entry.record.change.id,
        table: tableNameOf(entry.record.change),
        operation: entry.record.change.operation,
        partition_key: entry.partitionKey,
        bytes: entry.size,
        reason: `over the Kinesis limit of ${KINESIS_MAX_RECORD_BYTES} bytes per record (data plus partition key)`,
        data: utf8.decode(entry.record.data),
      }
      text += JSON.stringify(letter) + '\n'
    }
    await this.#file.append(text)
    await this.#file.sync()
  }

  async close(): Promise<void> {
    await this.#file.close()
  }
}
