/** @module Assertions for the test suite, with readable failure messages. */

export class AssertionError extends Error {
  override name = 'AssertionError'
}

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message)
}

/** Deep equality over plain data (objects, arrays, bigint, Uint8Array, symbols by identity). */
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
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a as object)
  const kb = Object.keys(b as object)
  if (ka.length !== kb.length) return false
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

function show(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : typeof v === 'symbol' ? v.toString() : v instanceof Uint8Array ? `bytes[${[...v].join(',')}]` : v))
}
