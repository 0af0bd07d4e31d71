/** @module Assertions for the test suite, with readable failure messages. */

export class AssertionError extends Error {
  override name = 'AssertionError'
}

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message)
}

/** Deep equality over plain data (objects, arrays, bigint, Uint8Array, Map, Set, Date; symbols by identity). */
export function assertEquals<T>(actual: T, expected: T, message = ''): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(`${message ? message + ': ' : ''}expected ${show(expected)}, got ${show(actual)}`)
  }
}

export async function assertRejects(fn: () => Promise<unknown>, pattern: RegExp | string): Promise<Error> {
  try {
    await fn()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const ok = typeof pattern === 'string' ? message.includes(pattern) : pattern.test(message)
    if (!ok) throw new AssertionError(`error message ${JSON.stringify(message)} does not match ${String(pattern)}`)
    return error instanceof Error ? error : new Error(message)
  }
  throw new AssertionError(`expected a rejection matching ${String(pattern)}, but it resolved`)
}

export function assertThrows(fn: () => unknown, pattern: RegExp | string): Error {
  try {
    fn()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const ok = typeof pattern === 'string' ? message.includes(pattern) : pattern.test(message)
    if (!ok) throw new AssertionError(`error message ${JSON.stringify(message)} does not match ${String(pattern)}`)
    return error instanceof Error ? error : new Error(message)
  }
  throw new AssertionError(`expected an error matching ${String(pattern)}, but none was thrown`)
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i])
  }
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && Object.is(a.getTime(), b.getTime())
  if (a instanceof Map || b instanceof Map) return a instanceof Map && b instanceof Map && mapsEqual(a, b)
  if (a instanceof Set || b instanceof Set) return a instanceof Set && b instanceof Set && setsEqual(a, b)
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a as object)
  const kb = Object.keys(b as object)
  if (ka.length !== kb.length) return false
  return ka.every((k) => Object.hasOwn(b as object, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

/** Same size, and each entry of `a` has an entry in `b` with an equal key (by identity, else by content) and an equal value. */
function mapsEqual(a: Map<unknown, unknown>, b: Map<unknown, unknown>): boolean {
  if (a.size !== b.size) return false
  const unmatched = [...b.entries()].filter(([key]) => !a.has(key))
  for (const [key, value] of a) {
    if (b.has(key)) {
      if (!deepEqual(value, b.get(key))) return false
      continue
    }
    const i = unmatched.findIndex(([k, v]) => deepEqual(key, k) && deepEqual(value, v))
    if (i < 0) return false
    unmatched.splice(i, 1)
  }
  return true
}

/** Same size, and each member of `a` is in `b` (by identity, else by content), each member of `b` matched once. */
function setsEqual(a: Set<unknown>, b: Set<unknown>): boolean {
  if (a.size !== b.size) return false
  const unmatched = [...b].filter((member) => !a.has(member))
  for (const member of a) {
    if (b.has(member)) continue
    const i = unmatched.findIndex((other) => deepEqual(member, other))
    if (i < 0) return false
    unmatched.splice(i, 1)
  }
  return true
}

function show(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    typeof v === 'bigint'
      ? `${v}n`
      : typeof v === 'symbol'
        ? v.toString()
        : v instanceof Uint8Array
          ? `bytes[${[...v].join(',')}]`
          : v instanceof Map
            ? { Map: [...v] }
            : v instanceof Set
              ? { Set: [...v] }
              : v,
  )
}
