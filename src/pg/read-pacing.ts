/**
 * @module When the replication socket is read. Over TCP, a client that reads each segment the
 * moment it lands keeps the walsender's socket always writable, so the walsender sends every
 * message as its own segment and pays the TCP path (both ends of it, on loopback) per message: it
 * then spends about twice the CPU per row. Reading in gulps (pausing briefly after a short read)
 * lets the data gather in the kernel, and the walsender's output leaves in large segments. Over
 * TLS the same holds, and worse: each walsender flush is a TLS record the client decrypts alone.
 * A unix socket has no per-segment cost to save, and its small buffer would throttle a paused
 * reader, so there the socket is read as eagerly as the consumer allows.
 */

import { afterIo } from '../runtime/timers.ts'

/** Pause the socket once this many CopyData messages wait unread: bounds memory under backpressure. */
export const MAX_BUFFERED_MESSAGES = 8192
/** A round of reads this large means more is waiting: read on at once. Node reads 64 KiB at a time. */
const FULL_READ_BYTES = 48 * 1024
/** How long the socket pauses after a short round, for data to gather (the latency this adds, at most). */
const GATHER_MS = 1
/**
 * A short read this large (after a pause) means the walsender is streaming: the next pause
 * doubles, up to what MAX_GATHERED_BYTES (TCP) or MAX_TLS_GATHER_MS allows. A smaller one (a
 * trickle, a keepalive) halves it, so a stream that turns quiet is soon read within GATHER_MS again.
 */
const STREAMING_READ_BYTES = 2 * 1024
/**
 * Over TCP a pause ends before about this much payload waits in the kernel at the measured rate.
 * Each message is a segment of its own, and a segment costs the receive queue several times its
 * size: longer pauses at a high rate overran the queue, the kernel pruned it (300-550 times per
 * run) and dropped segments, and throughput fell to about 180,000 rows/s in half the runs.
 */
const MAX_GATHERED_BYTES = 64 * 1024
/**
 * The longest TLS pause. TLS runs slower, and the same cap (about 2.5 ms there) cost the walsender
 * more CPU per row than 16 ms did, without the TCP slowdown to cure.
 */
const MAX_TLS_GATHER_MS = 16
/**
 * Pacing starts only above this rate (bytes per ms, about 40,000 rows/s of a small table): below
 * it the walsender's per-segment cost is small, and a pause would only add latency (measured at
 * 4,000 rows/s: commit→acknowledgement p50 1.5 → 36 ms when every short read paused).
 */
const BUSY_BYTES_PER_MS = 8 * 1024
/** The window over which the rate is measured. */
const RATE_WINDOW_MS = 100
/** The CopyData header the driver strips from each payload (tag + length). */
const COPY_DATA_HEADER = 5

/** How the replication connection reaches the server. */
export type Transport = 'unix' | 'tcp' | 'tls'

/** Decides, payload by payload, whether the driver's socket keeps reading. */
export interface ReadPacer {
  /**
   * One payload arrived, with `buffered` payloads now unread. Returns what the driver's `push`
   * returns: false pauses the socket.
   */
  received(payloadBytes: number, buffered: number): boolean
  /** The consumer took every buffered payload: a socket held for backpressure reads again. */
  drained(): void
  /**
   * Wake the consumer once the I/O being delivered now is handled, not at each payload: over TLS
   * each record reaches `push` in a callback of its own, with microtasks run in between, so a
   * consumer woken at once takes one or two rows per wake-up. Over TCP and unix sockets one read's
   * payloads arrive in one callback, and waking at once keeps the consumer in step with the socket.
   */
  readonly wakeAfterIo: boolean
}

/** The pacing for a transport; `resume` restarts the driver's paused socket; `now` is the clock (ms). */
export function readPacer(transport: Transport, resume: () => void, now: () => number = () => performance.now()): ReadPacer {
  if (transport === 'tcp') return new GulpedReads(resume, now)
  if (transport === 'tls') return new GatheredRounds(resume, now)
  return new EagerReads(resume, now)
}

/** Reads whenever the consumer keeps up: the socket pauses only while MAX_BUFFERED_MESSAGES wait. */
class EagerReads implements ReadPacer {
  readonly wakeAfterIo: boolean = false
  readonly resume: () => void
  /** Paused until the consumer takes the buffered payloads. */
  held = false
  /** Paused for GATHER_MS; a resume is scheduled (subclasses). */
  gathering = false

  readonly #now: () => number

  constructor(resume: () => void, now: () => number) {
    this.resume = resume
    this.#now = now
    this.#windowStart = now()
  }

  received(_payloadBytes: number, buffered: number): boolean {
    this.held ||= buffered >= MAX_BUFFERED_MESSAGES
    return !this.held
  }

  drained(): void {
    if (!this.held) return
    this.held = false
    if (!this.gathering) this.resume()
  }

  #windowStart: number
  #windowBytes = 0
  /** The last window's rate was above BUSY_BYTES_PER_MS: worth pacing. */
  busy = false
  /** The last window's rate. */
  bytesPerMs = 0

  /** Counts bytes toward the rate; a window that ends decides `busy` for the next one. */
  countBytes(bytes: number): void {
    this.#windowBytes += bytes
    const elapsed = this.#now() - this.#windowStart
    if (elapsed < RATE_WINDOW_MS) return
    this.bytesPerMs = this.#windowBytes / elapsed
    this.busy = this.bytesPerMs >= BUSY_BYTES_PER_MS
    this.#windowStart += elapsed
    this.#windowBytes = 0
  }

  #gatherMs = GATHER_MS

  /**
   * After a short read or round of `bytes` while busy: a streaming-sized one doubles the next
   * pause (at most `longestMs`), a trickle halves it; then pauses.
   */
  gatherAfterShort(bytes: number, longestMs: number): void {
    const longest = Math.max(GATHER_MS, longestMs)
    this.#gatherMs = bytes >= STREAMING_READ_BYTES ? Math.min(this.#gatherMs * 2, longest) : Math.max(this.#gatherMs / 2, GATHER_MS)
    this.gather(this.#gatherMs)
  }

  /** Not busy: the next pause starts short again. */
  resetGather(): void {
    this.#gatherMs = GATHER_MS
  }

  /** Pauses for `ms`, then reads again unless held for backpressure by then. */
  gather(ms: number): void {
    if (this.gathering) return
    this.gathering = true
    setTimeout(() => {
      this.gathering = false
      if (!this.held) this.resume()
    }, ms)
  }
}

/**
 * TCP: the socket pauses after every read; a full read resumes it at once, a short one after a
 * gathering pause. Every payload of one read is pushed in one synchronous run, so a microtask sees
 * the read whole. How long a pause gathers enough depends on the runtime: Node reads 64 KiB at a
 * time and leaves the rest queued in the kernel, so the walsender soon waits on the window and its
 * output coalesces; Bun reads up to 512 KiB at once and empties the queue, and after a 1 ms pause
 * the walsender's messages were still leaving one segment each (twice the walsender's CPU per
 * row). So the pause doubles while short reads show the walsender streaming.
 */
class GulpedReads extends EagerReads {
  #readBytes = 0

  override received(payloadBytes: number, buffered: number): boolean {
    this.held ||= buffered >= MAX_BUFFERED_MESSAGES
    if (this.#readBytes === 0) queueMicrotask(() => this.#endOfRead())
    this.#readBytes += payloadBytes + COPY_DATA_HEADER
    return false
  }

  #endOfRead(): void {
    const bytes = this.#readBytes
    this.#readBytes = 0
    this.countBytes(bytes)
    if (this.held) return
    if (!this.busy) {
      this.resetGather()
      return this.resume()
    }
    if (bytes >= FULL_READ_BYTES) return this.resume()
    this.gatherAfterShort(bytes, MAX_GATHERED_BYTES / Math.max(this.bytesPerMs, 1))
  }
}

/**
 * TLS: each record arrives as a chunk of its own, so pausing after every chunk would read one
 * message per pause. Instead a whole round (every record decrypted before the next poll for I/O)
 * is counted; after a short round the socket pauses at the next payload, lengthening and
 * shortening the pause as over TCP.
 */
class GatheredRounds extends EagerReads {
  override readonly wakeAfterIo = true
  #roundBytes = 0
  #lastRoundBytes = 0
  #pauseNext = false
  /** This round ended in a gathering pause: it was cut short on purpose, so it says nothing of the next. */
  #cutShort = false

  override received(payloadBytes: number, buffered: number): boolean {
    this.held ||= buffered >= MAX_BUFFERED_MESSAGES
    if (this.#roundBytes === 0) afterIo(() => this.#endOfRound())
    this.#roundBytes += payloadBytes + COPY_DATA_HEADER
    if (this.held) return false
    if (!this.#pauseNext) return true
    this.#pauseNext = false
    this.#cutShort = true
    this.gatherAfterShort(this.#lastRoundBytes, MAX_TLS_GATHER_MS)
    return false
  }

  #endOfRound(): void {
    this.countBytes(this.#roundBytes)
    if (!this.busy) this.resetGather()
    this.#lastRoundBytes = this.#roundBytes
    this.#pauseNext = this.busy && !this.#cutShort && this.#roundBytes < FULL_READ_BYTES
    this.#cutShort = false
    this.#roundBytes = 0
  }
}
