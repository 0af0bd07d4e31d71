/** One backoff rule and one abortable sleep, shared by reconnects and broker retries. */
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { backoff, sleep } from '../../src/backoff.ts'

test('backoff: the upper half of base·2^(attempt−1), capped', () => {
  assertEquals(
    [1, 2, 3, 4].map((n) => backoff(n, 100, 1_000, () => 0)),
    [50, 100, 200, 400],
  )
  assertEquals(
    [1, 2, 3, 4, 5].map((n) => backoff(n, 100, 1_000, () => 1)),
    [100, 200, 400, 800, 1_000],
  )
  assertEquals(
    backoff(30, 250, 30_000, () => 0.5),
    22_500,
    'capped at the maximum',
  )
})

test('sleep: an abort ends it at once, and no abort listener stays behind after it ends either way', async () => {
  const controller = new AbortController()
  const signal = controller.signal
  let listeners = 0
  const add = signal.addEventListener.bind(signal)
  const remove = signal.removeEventListener.bind(signal)
  signal.addEventListener = ((type: string, listener: EventListener, options?: AddEventListenerOptions) => (
    listeners++, add(type, listener, options)
  )) as typeof signal.addEventListener
  signal.removeEventListener = ((type: string, listener: EventListener) => (listeners--, remove(type, listener))) as typeof signal.removeEventListener
  for (let i = 0; i < 5; i++) await sleep(1, signal)
  assertEquals(listeners, 0, 'timed-out sleeps removed their listeners')
  const started = performance.now()
  const long = sleep(60_000, signal)
  controller.abort()
  await long
  assert(performance.now() - started < 1_000, 'the abort ended the sleep')
  await sleep(60_000, signal) // already aborted: returns at once
})
