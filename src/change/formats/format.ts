/** @module The record-format contract: a change in, one self-contained JSON document out. */
import type { Change } from '../change.ts'

/** Encodes changes into records. Must be deterministic: a re-sent change yields a byte-identical record. */
export interface RecordFormat {
  readonly name: string
  encode(change: Change): string
}
