/** @module Writes records as JSON lines to standard output: the embedded default writer. */
import type { Change } from '../change/change.ts'
import { writeStdout } from '../runtime/io.ts'
import { jsonLines, StreamWriter, type WriterRecord } from './writer.ts'

/** The partition key of every record: standard output is one stream, in commit order. */
const STDOUT_PARTITION_KEY = 'stdout'

/** One record per line. A batch counts as delivered once the runtime handed it to the OS. */
export class StdoutWriter extends StreamWriter {
  override async publish(records: readonly WriterRecord[]): Promise<void> {
    await writeStdout(jsonLines(records))
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
