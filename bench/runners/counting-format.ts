/** @module The default record format, counting the rows it encodes: how runners know what they saw. */
import type { Change } from '../../src/change/change.ts'
import type { RecordFormat } from '../../src/change/formats/format.ts'
import { SeedFormat } from '../../src/change/formats/seed.ts'

/** One extra call and an increment per row. */
export class CountingFormat implements RecordFormat {
  readonly name = 'seed'
  readonly #inner = new SeedFormat()
  rows = 0

  encode(change: Change): Uint8Array {
    this.rows++
    return this.#inner.encode(change)
  }
}
