/**
 * @module The frames of the streaming replication protocol inside CopyData: XLogData and
 * primary keepalive from the server, standby status update to it (PostgreSQL's "Streaming
 * Replication Protocol" chapter gives the layouts).
 */
import type { Lsn } from './lsn.ts'

/** Bytes before the WAL payload of an XLogData frame: 'w', start LSN, end LSN, send time. */
export const XLOG_DATA_HEADER = 25

const XLOG_DATA = 0x77 // 'w'
const PRIMARY_KEEPALIVE = 0x6b // 'k'
const STANDBY_STATUS_UPDATE = 0x72 // 'r'
/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
const PG_EPOCH_OFFSET_US = 946_684_800_000_000n

/** A primary keepalive: the server's current WAL end, and whether it wants a status update now. */
export interface Keepalive {
  readonly walEnd: Lsn
  readonly replyRequested: boolean
}

/** Whether a CopyData payload is XLogData (its pgoutput message starts at XLOG_DATA_HEADER). */
export function isXLogData(frame: Uint8Array): boolean {
  return frame[0] === XLOG_DATA
}

/** The keepalive a CopyData payload carries, or undefined for any other frame. */
export function readKeepalive(frame: Uint8Array): Keepalive | undefined {
  if (frame[0] !== PRIMARY_KEEPALIVE) return undefined
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  return { walEnd: view.getBigUint64(1), replyRequested: frame[17] === 1 }
}

/**
 * A standby status update. Written and flushed are both `flushed`: the slot's confirmed flush LSN
 * follows the flush position, and nothing past what was delivered may count as flushed.
 */
export function standbyStatusUpdate(received: Lsn, flushed: Lsn, replyRequested: boolean, nowMs = Date.now()): Uint8Array {
  const frame = new Uint8Array(34)
  const view = new DataView(frame.buffer)
  frame[0] = STANDBY_STATUS_UPDATE
  view.setBigUint64(1, received)
  view.setBigUint64(9, flushed)
  view.setBigUint64(17, flushed)
  view.setBigInt64(25, BigInt(nowMs) * 1000n - PG_EPOCH_OFFSET_US)
  frame[33] = replyRequested ? 1 : 0
  return frame
}
