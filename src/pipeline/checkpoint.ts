/** @module Tracks received vs flushed WAL positions and reports them to the server (StandbyStatusUpdate). */
import type { Lsn } from '../pg/lsn.ts'

export type StatusSender = (received: Lsn, flushed: Lsn, replyRequested: boolean) => void

/**
 * Invariant: `flushed` only moves forward, and only to positions whose changes were all durably
 * delivered (or that hold no change at all: an idle replication stream's keepalive position).
 */
export class Checkpoint {
  #received: Lsn
  #flushed: Lsn
  #reported: Lsn = -1n
  readonly #send: StatusSender
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(startFlushed: Lsn, send: StatusSender) {
    this.#received = startFlushed
    this.#flushed = startFlushed
    this.#send = send
  }

  get received(): Lsn {
    return this.#received
  }

  get flushed(): Lsn {
    return this.#flushed
  }

  /**
   * Sends a status update every `intervalMs`, idle or not, so the server never times the connection
   * out. Each asks for a reply: the keepalive that answers shows the connection works both ways
   * (readiness), which an idle server would otherwise not send while it hears from us.
   */
  startTimer(intervalMs: number): void {
    this.#timer = setInterval(() => this.report(true), intervalMs)
  }

  stopTimer(): void {
    clearInterval(this.#timer)
  }

  markReceived(lsn: Lsn): void {
    if (lsn > this.#received) this.#received = lsn
  }

  /** Everything up to `lsn` is durable: confirm it now. */
  markFlushed(lsn: Lsn): void {
    if (lsn <= this.#flushed) return
    this.#flushed = lsn
    if (lsn > this.#received) this.#received = lsn
    this.report(false)
  }

  /**
   * A primary keepalive. When nothing is in flight, its WAL end holds no undelivered change, so
   * confirming it keeps an idle or fully filtered database from retaining WAL forever. `idle` must
   * be false while a transaction is being assembled or published, and while any streamed
   * in-progress transaction is open (its changes wait in a spool file, and confirming a position
   * past its start would be a bet on how the server restarts decoding; this stays conservative).
   */
  keepalive(walEnd: Lsn, replyRequested: boolean, idle: boolean): void {
    this.markReceived(walEnd)
    if (idle && walEnd > this.#flushed) this.#flushed = walEnd
    if (replyRequested || this.#flushed !== this.#reported) this.report(replyRequested)
  }

  report(replyRequested: boolean): void {
    this.#reported = this.#flushed
    this.#send(this.#received, this.#flushed, replyRequested)
  }
}
