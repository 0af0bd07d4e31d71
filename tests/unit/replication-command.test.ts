/** @module Unit tests for the START_REPLICATION command: only the pgoutput options the server version has. */
import { test } from '../harness.ts'
import { assertEquals, assertThrows } from '../assert.ts'
import { startReplicationCommand, type StartOptions } from '../../src/pg/replication.ts'

const base: StartOptions = { slot: 'Slot', publication: 'pub', startLsn: 0n, protoVersion: 1, streaming: false, messages: false }

test('START_REPLICATION: protocol 1 without streaming or messages on PostgreSQL 12', () => {
  assertEquals(startReplicationCommand(base, 120022), `START_REPLICATION SLOT "Slot" LOGICAL 0/0 (proto_version '1', publication_names '"pub"')`)
})

test('START_REPLICATION: messages and streaming on PostgreSQL 14 and later', () => {
  const options: StartOptions = { ...base, protoVersion: 2, streaming: true, messages: true }
  for (const version of [140000, 180004]) {
    assertEquals(
      startReplicationCommand(options, version),
      `START_REPLICATION SLOT "Slot" LOGICAL 0/0 (proto_version '2', publication_names '"pub"', messages 'true', streaming 'on')`,
    )
  }
})

test('START_REPLICATION: messages asked of PostgreSQL 13 name the setting and the server version', () => {
  const error = assertThrows(() => startReplicationCommand({ ...base, messages: true }, 130023), /messagePrefixes .*PostgreSQL 14 and later.*PostgreSQL 13\.23/)
  assertEquals((error as { code?: string }).code, 'messages_unsupported')
})

test('START_REPLICATION: streaming asked of PostgreSQL 12 is refused with the fix', () => {
  const error = assertThrows(
    () => startReplicationCommand({ ...base, protoVersion: 2, streaming: true }, 120022),
    /PostgreSQL 14 or later.*PostgreSQL 12\.22.*"auto" or "off"/,
  )
  assertEquals((error as { code?: string }).code, 'streaming_unsupported')
})
