/** @module Reads the framing of a raw pgoutput payload sent inside a stream block, without decoding it. */
import { DecodeError } from './byte-reader.ts'
// The message kinds that carry a leading (sub)transaction xid inside a stream block (protocol 2).
import { DELETE, INSERT, MESSAGE, MESSAGE_TRANSACTIONAL, RELATION, TRUNCATE, TYPE, UPDATE } from './tags.ts'

/** Tag (1 byte) + xid (4 bytes); a Message's flags byte follows. */
const XID_END = 5

/**
 * For a payload received between Stream Start and Stream Stop: the xid of the (sub)transaction
 * whose change it carries, when it belongs to the streamed transaction (Relation, Type, Insert,
 * Update, Delete, Truncate, transactional Message). Undefined for what does not: Origin (sent
 * without an xid), a non-transactional Message (it takes effect at once), stream control messages.
 * The xid is the subtransaction's, not the top-level one, for changes made in a subtransaction:
 * pgoutput writes `change->txn->xid`, which is what lets a Stream Abort discard just those.
 * @throws DecodeError when the payload is too short to hold what its tag promises.
 */
export function streamedMessageXid(payload: Uint8Array): number | undefined {
  const tag = payload[0]
  if (tag !== RELATION && tag !== TYPE && tag !== INSERT && tag !== UPDATE && tag !== DELETE && tag !== TRUNCATE && tag !== MESSAGE) return undefined
  const needed = tag === MESSAGE ? XID_END + 1 : XID_END
  if (payload.length < needed) throw new DecodeError(`streamed message of ${payload.length} bytes is too short for its xid`, payload.length)
  if (tag === MESSAGE && (payload[XID_END]! & MESSAGE_TRANSACTIONAL) === 0) return undefined
  return ((payload[1]! << 24) | (payload[2]! << 16) | (payload[3]! << 8) | payload[4]!) >>> 0
}
