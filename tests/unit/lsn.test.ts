import { test } from '../harness.ts'
import { assertEquals, assertThrows } from '../assert.ts'
import { formatLsn, parseLsn } from '../../src/pg/lsn.ts'

test('LSN text round-trips through bigint', () => {
  assertEquals(parseLsn('16/B374D848'), 0x16b374d848n)
  assertEquals(formatLsn(0x16b374d848n), '16/B374D848')
  assertEquals(formatLsn(parseLsn('0/0')), '0/0')
  assertEquals(formatLsn(parseLsn('FFFFFFFF/FFFFFFFF')), 'FFFFFFFF/FFFFFFFF')
})

test('LSN parsing rejects malformed text', () => {
  assertThrows(() => parseLsn('16-B374'), 'invalid LSN "16-B374"')
  assertThrows(() => parseLsn('123456789/0'), 'invalid LSN')
})
