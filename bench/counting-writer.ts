/** @module A writer for the broker benchmarks: delegates to the real one and notes when enough records were published. */
import { StreamWriter, type Change, type WriterRecord } from '../mod.ts'

export class CountingWriter extends StreamWriter {
  finishedAt = 0
  #published = 0
  constructor(
    private readonly inner: StreamWriter,
    private readonly rows: number,
    private readonly done: () => void,
  ) {
    super()
  }
  override init(): Promise<void> {
    return this.inner.init()
  }
  override async publish(records: readonly WriterRecord[]): Promise<void> {
    await this.inner.publish(records)
    this.#published += records.length
    if (this.#published >= this.rows && this.finishedAt === 0) (this.finishedAt = performance.now()), this.done()
  }
  override assignChangeToPartitionKey(change: Change): string {
    return this.inner.assignChangeToPartitionKey(change)
  }
  override close(): Promise<void> {
    return this.inner.close()
  }
}
