/** @module Unit tests for the replication frames inside CopyData, byte for byte as the protocol chapter lays them out. */
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import { isXLogData, readKeepalive, standbyStatusUpdate, XLOG_DATA_HEADER } from '../../src/pg/replication-frames.ts'

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16))
}

test('replication frames: a keepalive gives the WAL end and the reply request; XLogData is not a keepalive', () => {
  // 'k', WAL end 0/16B3748, send time, reply requested.
  const keepalive = fromHex('6b' + '00000000016b3748' + '0002a0c0f3b5e3a1' + '01')
  assertEquals(readKeepalive(keepalive), { walEnd: 0x16b3748n, replyRequested: true })
  assertEquals(readKeepalive(fromHex('6b' + 'ffffffff00000001' + '0000000000000000' + '00')), { walEnd: 0xffffffff00000001n, replyRequested: false })
  assertEquals(isXLogData(keepalive), false)
  const xlogData = new Uint8Array(XLOG_DATA_HEADER + 1)
  xlogData[0] = 0x77
  xlogData[XLOG_DATA_HEADER] = 0x42 // 'B'egin, the first pgoutput byte
  assertEquals(isXLogData(xlogData), true)
  assertEquals(readKeepalive(xlogData), undefined)
})

test('replication frames: a keepalive inside a larger buffer is read from its own offset', () => {
  const buffer = fromHex('ffff' + '6b' + '0000000100000002' + '0000000000000000' + '00')
  assertEquals(readKeepalive(buffer.subarray(2)), { walEnd: 0x100000002n, replyRequested: false })
})

test('replication frames: a standby status update reports written and flushed as the delivered LSN, in PostgreSQL time', () => {
  const oneSecondAfterPgEpoch = 946_684_800_000 + 1000
  const frame = standbyStatusUpdate(0x3000n, 0x2000n, true, oneSecondAfterPgEpoch)
  assertEquals(hex(frame), '72' + '0000000000003000' + '0000000000002000' + '0000000000002000' + '00000000000f4240' + '01')
  assertEquals(standbyStatusUpdate(1n, 1n, false, oneSecondAfterPgEpoch)[33], 0)
})
