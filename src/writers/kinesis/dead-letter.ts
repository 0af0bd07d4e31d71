/**
 * @module The Kinesis writer's use of the shared dead-letter file (../dead-letter.ts): records over
 * the per-record limit, written with their partition key, size and the reason.
 */
import { tableNameOf } from '../../change/change.ts'
import { DeadLetterFile as SharedDeadLetterFile } from '../dead-letter.ts'
import { KINESIS_MAX_RECORD_BYTES } from './limits.ts'
import type { Entry } from './plan.ts'

export type { DeadLetter } from '../dead-letter.ts'

const utf8 = new TextDecoder()
const REASON = `over the Kinesis limit of ${KINESIS_MAX_RECORD_BYTES} bytes per record (data plus partition key)`

/** The dead-letter file, taking the writer's entries. */
export class DeadLetterFile {
  readonly #file: SharedDeadLetterFile

  private constructor(file: SharedDeadLetterFile) {
    this.#file = file
  }

  /** @throws PgToBrokersError (code kinesis_dead_letter) when the file cannot be opened for appending. */
  static async open(path: string): Promise<DeadLetterFile> {
    return new DeadLetterFile(await SharedDeadLetterFile.open(path, 'kinesis_dead_letter'))
  }

  get path(): string {
    return this.#file.path
  }

  /** Appends the records and forces them to disk. */
  write(entries: readonly Entry[]): Promise<void> {
    return this.#file.write(
      entries.map((entry) => ({
        id: entry.record.change.id,
        table: tableNameOf(entry.record.change),
        operation: entry.record.change.operation,
        partition_key: entry.partitionKey,
        bytes: entry.size,
        reason: REASON,
        data: utf8.decode(entry.record.data),
      })),
    )
  }

  close(): Promise<void> {
    return this.#file.close()
  }
}
