/** @module The test suite's own assertions: equal data passes, and every kind of difference fails. */
import { test } from '../harness.ts'
import { assert, assertEquals, AssertionError, assertRejects, assertThrows } from '../assert.ts'

/** Both ways round, assertEquals must reject the pair with an AssertionError. */
function assertDiffers(actual: unknown, expected: unknown, why: string): void {
  for (const [x, y] of [
    [actual, expected],
    [expected, actual],
  ]) {
    let rejected = false
    try {
      assertEquals(x, y)
    } catch (error) {
      rejected = error instanceof AssertionError
    }
    assert(rejected, `${why}: the values were judged equal`)
  }
}

test('assertEquals: Maps compare by entries, not as empty objects', () => {
  assertEquals(
    new Map([
      ['a', 1],
      ['b', 2],
    ]),
    new Map([
      ['b', 2],
      ['a', 1],
    ]),
  )
  assertEquals(new Map([[{ k: 1 }, [1n]]]), new Map([[{ k: 1 }, [1n]]]))
  assertDiffers(new Map([['a', 1]]), new Map([['a', 2]]), 'different values')
  assertDiffers(new Map([['a', 1]]), new Map([['b', 1]]), 'different keys')
  assertDiffers(
    new Map([['a', 1]]),
    new Map([
      ['a', 1],
      ['b', 2],
    ]),
    'different sizes',
  )
  assertDiffers(new Map([[{ k: 1 }, 1]]), new Map([[{ k: 2 }, 1]]), 'different object keys')
  assertDiffers(new Map([['a', new Map([['x', 1]])]]), new Map([['a', new Map([['x', 9]])]]), 'nested Maps')
  assertDiffers(new Map(), {}, 'a Map is not a plain object')
})

test('assertEquals: Sets compare by members', () => {
  assertEquals(new Set([1, 2, 3]), new Set([3, 2, 1]))
  assertEquals(new Set([[1], [2]]), new Set([[2], [1]]))
  assertDiffers(new Set([1, 2]), new Set([1, 3]), 'different members')
  assertDiffers(new Set([1]), new Set([1, 2]), 'different sizes')
  assertDiffers(new Set([[1], [1]]), new Set([[1], [2]]), 'each member matched once')
  assertDiffers(new Set([1]), [1], 'a Set is not an array')
})

test('assertEquals: Dates compare by time', () => {
  assertEquals(new Date('2026-11-29T10:00:00Z'), new Date(Date.UTC(2026, 10, 29, 10)))
  assertEquals(new Date(Number.NaN), new Date(Number.NaN))
  assertDiffers(new Date(0), new Date(1), 'different times')
  assertDiffers(new Date(0), {}, 'a Date is not a plain object')
})

test('assertEquals: plain data, bigint, bytes and arrays keep their rules', () => {
  assertEquals({ a: [1, { b: 2n }], c: new Uint8Array([1, 2]), d: null }, { d: null, c: new Uint8Array([1, 2]), a: [1, { b: 2n }] })
  assertEquals(Number.NaN, Number.NaN)
  assertDiffers(1n, 1, 'bigint is not number')
  assertDiffers(0, -0, 'signed zeros differ')
  assertDiffers(new Uint8Array([1, 2]), new Uint8Array([1, 3]), 'different bytes')
  assertDiffers(new Uint8Array([1]), [1], 'bytes are not an array')
  assertDiffers([1, 2], [1, 2, 3], 'different lengths')
  assertDiffers({ a: 1 }, { a: 1, b: 2 }, 'extra key')
  assertDiffers({ a: undefined }, { b: undefined }, 'same count, different keys')
  assertDiffers([], {}, 'an array is not an object')
  assertDiffers(null, {}, 'null is not an object')
})

test('assertEquals: a failure shows both sides, Maps and Sets included', () => {
  const error = assertThrows(() => assertEquals(new Map([['a', 1]]), new Map([['a', 2]]), 'the map'), 'the map: ')
  assertEquals(error.message, 'the map: expected {"Map":[["a",2]]}, got {"Map":[["a",1]]}')
})

test('assertThrows and assertRejects fail when nothing is thrown, or the message does not match', async () => {
  assertThrows(() => assertThrows(() => 1, 'x'), 'but none was thrown')
  assertThrows(
    () =>
      assertThrows(() => {
        throw new Error('other')
      }, 'x'),
    'does not match',
  )
  await assertRejects(() => assertRejects(async () => 1, 'x'), 'but it resolved')
  await assertRejects(() => assertRejects(() => Promise.reject(new Error('other')), /^x/), 'does not match')
})
