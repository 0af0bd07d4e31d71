/** @module The record-format contract: a change in, one self-contained document out, as bytes. */
import type { Change } from '../change.ts'

/**
 * Encodes changes into records (UTF-8 JSON for the built-in formats). Must be deterministic: a
 * re-sent change yields a byte-identical record. The returned bytes must not change afterwards
 * (a format may hand out views of a larger buffer, as long as it never writes there again).
 */
export interface RecordFormat {
  readonly name: string
  encode(change: Change): Uint8Array
}
