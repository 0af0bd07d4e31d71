/**
 * @module When the replication socket is read. Over TCP, a client that reads each segment the
 * moment it lands keeps the walsender's socket always writable, so the walsender sends every
 * message as its own segment and pays the TCP path (both ends of it, on loopback) per message: it
 * then spends about twice the CPU per row. Reading in gulps (pausing briefly after a short read)
 * lets the data gather in the kernel, and the walsender's output leaves in large segments.
 * A unix socket has no per-segment cost to save, and its small buffer would throttle a paused
 * reader, so there the socket is read as eagerly as the consumer allows.
 */

/** Pause the socket once this many CopyData messages wait unread: bounds memory under backpressure. */
export const MAX_BUFFERED_MESSAGES = 8192
/** A read this large means more is waiting: read on at once. Node reads at most 64 KiB at a time. */
const FULL_READ_BYTES = 48 * 1024
/** How long a short read lets data gather before the next one (the latency this adds, at most). */
const GATHER_MS = 1
/** The CopyData header the driver strips from each payload (tag + length). */
const COPY_DATA_HEADER = 5

/** Decides, payload by payload, whether the driver's socket keeps reading. */
export class ReadPacer {
  readonly #resume: () => void
  readonly #gather: boolean
  #readBytes = 0
  /** Paused until the consumer takes the buffered payloads. */
  #held = false
  /** A resume after GATHER_MS is scheduled. */
  #gathering = false

  /** `resume` restarts the socket; `gather` paces reads (TCP) instead of reading eagerly (unix socket). */
  constructor(resume: () => void, gather: boolean) {
    this.#resume = resume
    this.#gather = gather
  }

  /**
   * One payload arrived, with `buffered` payloads now unread. Returns what the driver's `push`
   * returns: false pauses the socket after the current read.
   */
  received(payloadBytes: number, buffered: number): boolean {
    if (!this.#gather) {
      this.#held = buffered >= MAX_BUFFERED_MESSAGES
      return !this.#held
    }
    // Every payload of one socket read is pushed in one synchronous run: a microtask sees the read whole.
    if (this.#readBytes === 0) queueMicrotask(() => this.#endOfRead())
    this.#readBytes += payloadBytes + COPY_DATA_HEADER
    if (buffered >= MAX_BUFFERED_MESSAGES) this.#held = true
    return false
  }

  /** The consumer took every buffered payload: a socket held for backpressure reads again. */
  drained(): void {
    if (!this.#held) return
    this.#held = false
    if (!this.#gathering) this.#resume()
  }

  #endOfRead(): void {
    const bytes = this.#readBytes
    this.#readBytes = 0
    if (this.#held) return
    if (bytes >= FULL_READ_BYTES) return this.#resume()
    if (this.#gathering) return
    this.#gathering = true
    setTimeout(() => {
      this.#gathering = false
      if (!this.#held) this.#resume()
    }, GATHER_MS)
  }
}
