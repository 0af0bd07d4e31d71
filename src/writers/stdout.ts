/** @module Writes records as JSON lines to standard output: the embedded default writer. */
import type { Change } from '../change/change.ts'
import { PgToBrokersError } from '../errors.ts'
import { isBrokenPipe, writeStdout } from '../runtime/io.ts'
import { jsonLines, StreamWriter, type WriterRecord } from './writer.ts'

/** The partition key of every record: standard output is one stream, in commit order. */
const STDOUT_PARTITION_KEY = 'stdout'

/**
 * One record per line. A batch counts as delivered once the runtime handed it to the OS (the pipe
 * or file behind stdout accepted the bytes): a reader that dies after that loses what it had not
 * read yet. When the reader is gone (EPIPE, as with `| head -n 1`) publish rejects, so the batch
 * that hit it is not confirmed, and the pipeline stops.
 */
export class StdoutWriter extends StreamWriter {
  /** @throws PgToBrokersError (code stdout_closed) when nobody reads stdout any more. */
  override async publish(records: readonly WriterRecord[]): Promise<void> {
    try {
      await writeStdout(jsonLines(records))
    } catch (error) {
      if (!isBrokenPipe(error)) throw error
      throw new PgToBrokersError('stdout_closed', 'stdout closed (EPIPE): stopping; the slot is confirmed only up to what was written', { cause: error })
    }
  }

  /**
   * Always `"stdout"`: one output keeps every row's history in order, so the key (table plus
   * primary-key values, built for every record) would be computed for nothing. A subclass that
   * routes by key overrides this again.
   */
  override assignChangeToPartitionKey(_change: Change): string {
    return STDOUT_PARTITION_KEY
  }
}
