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

/** 2 MB (by default) within one 100 ms rate window: from the next read on the pacer sees a busy stream. */
async function makeBusy(pacer: ReturnType<typeof readPacer>, clock: ReturnType<typeof fakeClock>, transport: 'tcp' | 'tls', bytes = 2_000_000): Promise<void> {
  pacer.received(bytes - 5, 1) // the pacer counts the 5-byte CopyData header the driver stripped
  await (transport === 'tcp' ? Promise.resolve() : nextRound())
  clock.advance(100)
}

/**
 * Replaces setTimeout so that the pacer's pauses are read off the timers it sets and ended by hand:
 * nothing here waits on a clock. `endPause` runs the pending pause's callback; `restore` puts setTimeout back.
 */
function stubPauses(): { pauses: number[]; endPause: () => void; restore: () => void } {
  const pauses: number[] = []
  let pending: (() => void) | undefined
  const realSetTimeout = globalThis.setTimeout
  globalThis.setTimeout = ((callback: () => void, ms: number) => {
    pauses.push(ms)
    pending = callback
    return 0
  }) as unknown as typeof setTimeout
  const endPause = () => {
    const callback = pending
    pending = undefined
    callback?.()
  }
  return { pauses, endPause, restore: () => void (globalThis.setTimeout = realSetTimeout) }
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

test('read pacing, TCP: short reads of a streaming walsender lengthen the pause up to 64 KiB at the rate seen, a trickle shortens it', async () => {
  const { resume, count: counted } = counter()
  const clock = fakeClock()
  const pacer = readPacer('tcp', resume, clock.now)
  await makeBusy(pacer, clock, 'tcp', 819_200) // 8,192 bytes per ms: 64 KiB gather in 8 ms
  const count = () => counted() - 1
  const { pauses, endPause, restore } = stubPauses()
  const read = async (payloads: number) => {
    for (let i = 0; i < payloads; i++) pacer.received(200, i + 1)
    await Promise.resolve()
    endPause()
  }
  try {
    for (let i = 0; i < 6; i++) await read(20) // 4 kB each: the walsender is streaming
    // The rate window also counts the first read: 64 KiB take a little under 8 ms.
    const tenths = (list: number[]) => list.map((ms) => Math.round(ms * 10) / 10)
    assertEquals(tenths(pauses), [2, 4, 8, 8, 8, 8])
    await read(300)
    assertEquals(pauses.length, 6, 'a full read resumes at once, without a pause')
    for (let i = 0; i < 5; i++) await read(1) // one message each: a trickle
    assertEquals(tenths(pauses.slice(6)), [4, 2, 1, 1, 1])
    assertEquals(count(), 12, 'every read was followed by a resume')
  } finally {
    restore()
  }
})

test('read pacing, TCP: at 20 kB/ms the pause stops growing at 3.3 ms, before 64 KiB wait in the kernel', async () => {
  const { resume } = counter()
  const clock = fakeClock()
  const pacer = readPacer('tcp', resume, clock.now)
  await makeBusy(pacer, clock, 'tcp') // 2,000,000 bytes in 100 ms
  const { pauses, endPause, restore } = stubPauses()
  try {
    for (let read = 0; read < 4; read++) {
      for (let i = 0; i < 20; i++) pacer.received(200, i + 1)
      await Promise.resolve()
      endPause()
    }
    assertEquals(
      pauses.map((ms) => Math.round(ms * 10) / 10),
      [2, 3.3, 3.3, 3.3],
    )
  } finally {
    restore()
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
  await makeBusy(pacer, clock, 'tls', 819_200)
  const { pauses, endPause, restore } = stubPauses()
  // A round of `payloads` records, then the first payload of the next round, which pauses.
  const round = async (payloads: number) => {
    for (let i = 0; i < payloads; i++) assertEquals(pacer.received(200, i + 1), true)
    await nextRound()
    assertEquals(pacer.received(200, 1), false, 'the payload after a short round pauses')
    await nextRound()
    endPause()
  }
  try {
    for (let i = 0; i < 5; i++) await round(20) // 4 kB rounds: the walsender is streaming
    const tenths = (list: number[]) => list.map((ms) => Math.round(ms * 10) / 10)
    assertEquals(tenths(pauses), [2, 4, 8, 16, 16])
    for (let i = 0; i < 4; i++) await round(1) // one message per round: a trickle
    assertEquals(tenths(pauses.slice(5)), [8, 4, 2, 1])
  } finally {
    restore()
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

test('read pacing: only over TLS is the consumer woken once per round of I/O rather than per payload', () => {
  const resume = () => {}
  assertEquals(readPacer('tls', resume).wakeAfterIo, true)
  assertEquals(readPacer('tcp', resume).wakeAfterIo, false)
  assertEquals(readPacer('unix', resume).wakeAfterIo, false)
})
