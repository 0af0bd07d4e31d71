/** @module Seeded randomness for test scenarios, so that a failing run can be replayed from its seed. */
import { noteOnFailure } from './harness.ts'

const SEED_ENV = 'PG_TO_BROKERS_TEST_SEED'

/**
 * The seed of a randomized scenario: `PG_TO_BROKERS_TEST_SEED` when set (to replay a failure),
 * otherwise a fresh one. Either way the current test prints it if it fails.
 * @throws Error when the variable is set but is not a whole number from 0 to 2^32 - 1.
 */
export function testSeed(): number {
  const text = globalThis.process?.env?.[SEED_ENV]
  const seed = text === undefined || text === '' ? Math.floor(Math.random() * 2 ** 32) : parseSeed(text)
  noteOnFailure(`seed ${seed}: replay with ${SEED_ENV}=${seed}`)
  return seed
}

/** mulberry32: a small, fast PRNG; the same seed gives the same numbers in [0, 1) on every runtime. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function parseSeed(text: string): number {
  const seed = Number(text)
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new Error(`${SEED_ENV}=${JSON.stringify(text)} is not a seed: give the whole number a failed test printed, or unset it`)
  }
  return seed
}
