/** @module Writes records as JSON lines to standard output: the embedded default writer. */
import { writeStdout } from '../runtime/io.ts'
import { StreamWriter, type WriterRecord } from './writer.ts'

/** One record per line. A batch counts as delivered once the runtime handed it to the OS. */
export class StdoutWriter extends StreamWriter {
  override async publish(records: readonly WriterRecord[]): Promise<void> {
    let text = ''
    for (const record of records) text += record.data + '\n'
    await writeStdout(text)
  }
}
