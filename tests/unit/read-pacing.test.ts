/** When the replication socket reads: eager on a unix socket, in gulps over TCP, in gathered rounds over TLS. */
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import { MAX_BUFFERED_MESSAGES, readPacer } from '../../src/pg/read-pacing.ts'

const nextRound = () => new Promise<void>((resolve) => setImmediate(resolve))
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A clock that moves only when told. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0
  return { now: () => t, advance: (ms) => void (t += ms) }
}

/** 2 MB within one rate window: from the next read on the pacer sees a busy stream. */
async function makeBusy(pacer: ReturnType<typeof readPacer>, clock: ReturnType<typeof fakeClock>, transport: 'tcp' | 'tls'): Promise<void> {
  pacer.received(2_000_000, 1)
  await (transport === 'tcp' ? Promise.resolve() : nextRound())
  clock.advance(100)
}

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

test('read pacing, TCP below the busy rate: a short read resumes at once (no latency added)', async () => {
  const { resume, count } = counter()
  const pacer = readPacer('tcp', resume, fakeClock().now)
  for (let i = 0; i < 5; i++) {
    assertEquals(pacer.received(200, 1), false)
    await Promise.resolve()
    assertEquals(count(), i + 1, `short read ${i}: resumed at once`)
  }
})

test('read pacing, TCP when busy: every read pauses; a full read resumes at once, a short one after a moment', async () => {
  const { resume, count: counted } = counter()
  const clock = fakeClock()
  const pacer = readPacer('tcp', resume, clock.now)
  await makeBusy(pacer, clock, 'tcp')
  const count = () => counted() - 1
  for (let i = 0; i < 300; i++) assertEquals(pacer.received(200, i + 1), false)
  await Promise.resolve()
  assertEquals(count(), 1, 'a 60 kB read: resumed at once')
  assertEquals(pacer.received(200, 1), false)
  await Promise.resolve()
  assertEquals(count(), 1, 'a short read waits')
  await pause(20)
  assertEquals(count(), 2, 'then resumes')
})

test('read pacing, TCP: short reads of a streaming walsender lengthen the pause up to 16 ms, a trickle shortens it again', async () => {
  const { resume, count: counted } = counter()
  const clock = fakeClock()
  const pacer = readPacer('tcp', resume, clock.now)
  await makeBusy(pacer, clock, 'tcp')
  const count = () => counted() - 1
  // The pauses are read off the timers the pacer sets, and ended by hand: nothing here waits on a clock.
  const pauses: number[] = []
  let endPause: (() => void) | undefined
  const realSetTimeout = globalThis.setTimeout
  globalThis.setTimeout = ((callback: () => void, ms: number) => {
    pauses.push(ms)
    endPause = callback
    return 0
  }) as unknown as typeof setTimeout
  const read = async (payloads: number) => {
    for (let i = 0; i < payloads; i++) pacer.received(200, i + 1)
    await Promise.resolve()
    endPause?.()
    endPause = undefined
  }
  try {
    for (let i = 0; i < 6; i++) await read(20) // 4 kB each: the walsender is streaming
    assertEquals(pauses, [2, 4, 8, 16, 16, 16])
    await read(300)
    assertEquals(pauses.length, 6, 'a full read resumes at once, without a pause')
    for (let i = 0; i < 5; i++) await read(1) // one message each: a trickle
    assertEquals(pauses.slice(6), [8, 4, 2, 1, 1])
    assertEquals(count(), 12, 'every read was followed by a resume')
  } finally {
    globalThis.setTimeout = realSetTimeout
  }
})

test('read pacing, TLS: a round reads on; after a short round the next payload pauses once, and the round after it is not cut', async () => {
  const { resume, count } = counter()
  const clock = fakeClock()
  const pacer = readPacer('tls', resume, clock.now)
  await makeBusy(pacer, clock, 'tls')
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

test('read pacing, TLS: rounds of a streaming walsender lengthen the pause up to 16 ms, a trickle shortens it again', async () => {
  const { resume } = counter()
  const clock = fakeClock()
  const pacer = readPacer('tls', resume, clock.now)
  await makeBusy(pacer, clock, 'tls')
  const pauses: number[] = []
  let endPause: (() => void) | undefined
  const realSetTimeout = globalThis.setTimeout
  globalThis.setTimeout = ((callback: () => void, ms: number) => {
    pauses.push(ms)
    endPause = callback
    return 0
  }) as unknown as typeof setTimeout
  // A round of `payloads` records, then the first payload of the next round, which pauses.
  const round = async (payloads: number) => {
    for (let i = 0; i < payloads; i++) assertEquals(pacer.received(200, i + 1), true)
    await nextRound()
    assertEquals(pacer.received(200, 1), false, 'the payload after a short round pauses')
    await nextRound()
    endPause?.()
    endPause = undefined
  }
  try {
    for (let i = 0; i < 5; i++) await round(20) // 4 kB rounds: the walsender is streaming
    assertEquals(pauses, [2, 4, 8, 16, 16])
    for (let i = 0; i < 4; i++) await round(1) // one message per round: a trickle
    assertEquals(pauses.slice(5), [8, 4, 2, 1])
  } finally {
    globalThis.setTimeout = realSetTimeout
  }
})

test('read pacing, TLS: held for backpressure, the socket waits for the consumer even when the gathering pause ends', async () => {
  const { resume, count } = counter()
  const clock = fakeClock()
  const pacer = readPacer('tls', resume, clock.now)
  await makeBusy(pacer, clock, 'tls')
  pacer.received(200, 1)
  await nextRound()
  assertEquals(pacer.received(200, MAX_BUFFERED_MESSAGES), false)
  await pause(20)
  assertEquals(count(), 0, 'still held')
  pacer.drained()
  assertEquals(count(), 1)
})
