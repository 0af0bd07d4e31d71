/** When the replication socket reads: eager on a unix socket, in gulps over TCP, in gathered rounds over TLS. */
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import { MAX_BUFFERED_MESSAGES, readPacer } from '../../src/pg/read-pacing.ts'

const nextRound = () => new Promise<void>((resolve) => setImmediate(resolve))
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function counter(): { resume: () => void; count: () => number } {
  let resumes = 0
  return { resume: () => void resumes++, count: () => resumes }
}

test('read pacing, unix socket: reads on until MAX_BUFFERED_MESSAGES wait, then until the consumer drains them', () => {
  const { resume, count } = counter()
  const pacer = readPacer('unix', resume)
  assertEquals(pacer.received(200, 1), true)
  assertEquals(pacer.received(200, MAX_BUFFERED_MESSAGES), false, 'held at the bound')
  assertEquals(count(), 0)
  pacer.drained()
  assertEquals(count(), 1, 'draining resumes the socket')
  pacer.drained()
  assertEquals(count(), 1, 'only once')
})

test('read pacing, TCP: every read pauses; a full read resumes at once, a short one after a moment', async () => {
  const { resume, count } = counter()
  const pacer = readPacer('tcp', resume)
  for (let i = 0; i < 300; i++) assertEquals(pacer.received(200, i + 1), false)
  await Promise.resolve()
  assertEquals(count(), 1, 'a 60 kB read: resumed at once')
  assertEquals(pacer.received(200, 1), false)
  await Promise.resolve()
  assertEquals(count(), 1, 'a short read waits')
  await pause(20)
  assertEquals(count(), 2, 'then resumes')
})

test('read pacing, TLS: a round reads on; after a short round the next payload pauses once, and the round after it is not cut', async () => {
  const { resume, count } = counter()
  const pacer = readPacer('tls', resume)
  // One record per message: pausing after each would read one message per pause.
  for (let i = 0; i < 3; i++) assertEquals(pacer.received(200, i + 1), true, `record ${i} of a fresh round`)
  await nextRound()
  assertEquals(pacer.received(200, 1), false, 'after a short round: pause to gather')
  await nextRound()
  await pause(20)
  assertEquals(count(), 1, 'resumed after the gathering pause')
  assertEquals(pacer.received(200, 1), true, 'the round after a gathering pause reads on')
  assertEquals(pacer.received(200, 2), true)
})

test('read pacing, TLS: held for backpressure, the socket waits for the consumer even when the gathering pause ends', async () => {
  const { resume, count } = counter()
  const pacer = readPacer('tls', resume)
  pacer.received(200, 1)
  await nextRound()
  assertEquals(pacer.received(200, MAX_BUFFERED_MESSAGES), false)
  await pause(20)
  assertEquals(count(), 0, 'still held')
  pacer.drained()
  assertEquals(count(), 1)
})
