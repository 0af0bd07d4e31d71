/** @module The writer contract, and StreamWriter: the base class a user extends to add a broker. */
import type { Change } from '../change/change.ts'
import { rowKeyOf } from '../change/row-key.ts'

/** One change ready to send: its encoded record and the key that keeps its row's history in order. */
export interface WriterRecord {
  readonly change: Change
  /** The encoded record (UTF-8 JSON by default); byte-identical when the same change is re-sent. */
  readonly data: Uint8Array
  readonly partitionKey: string
}

/**
 * Base class for writers.
 *
 * Contract: `publish` resolves only when the broker has durably accepted every record of the batch,
 * in order per partition key; it rejects (with a clear message) otherwise. The pipeline confirms a
 * transaction to PostgreSQL only after every batch holding its changes resolved, so delivery is
 * at-least-once: after a crash, records may be sent again, byte-identical and with the same `id`.
 * Batches are published one at a time, in commit order.
 */
export abstract class StreamWriter {
  /** Connects, checks the destination exists. Called once before the first batch. */
  async init(): Promise<void> {}

  /** Delivers a batch durably (see the class contract). */
  abstract publish(records: readonly WriterRecord[]): Promise<void>

  /**
   * The partition key for a change. Default: `schema.table:<key values as JSON>…`, the key being
   * the replica identity (the primary key under DEFAULT, the index under USING INDEX; the primary
   * key under FULL), so INSERT, UPDATE and DELETE of one row share a key and stay in order. Tables
   * without a key, and TRUNCATE (which has no row), use `schema.table`; logical messages their
   * prefix. Override to route differently (the original project's `assign_change_to_partition_key`).
   */
  assignChangeToPartitionKey(change: Change): string {
    return rowKeyOf(change)
  }

  /** Releases connections and files. Called once, after the last batch resolved or failed. */
  async close(): Promise<void> {}
}

/** A batch as JSON lines: one record per line, each line ending in a newline. */
export function jsonLines(records: readonly WriterRecord[]): Uint8Array {
  let length = 0
  for (const record of records) length += record.data.length + 1
  const lines = new Uint8Array(length)
  let at = 0
  for (const record of records) {
    lines.set(record.data, at)
    at += record.data.length
    lines[at++] = 0x0a
  }
  return lines
}
