/**
 * @module What `/readyz` answers: streaming (or standing by as a standby) with a recent exchange
 * with the server. The pipeline reports its state changes and each message from the server.
 */

/** Where the pipeline is: readiness follows from it. */
export type PipelineState = 'starting' | 'standby' | 'streaming' | 'reconnecting' | 'stopping'

export interface Readiness {
  readonly ready: boolean
  /** One line: why it is (not) ready. */
  readonly reason: string
}

/**
 * Tracks the pipeline's state and when the server was last heard from. Ready: standing by, or
 * streaming with a message from the server (data or keepalive) within `windowMs`. The pipeline
 * asks for a keepalive with every periodic status update, so an idle but healthy stream keeps
 * being heard from.
 */
export class Health {
  readonly #windowMs: number
  readonly #now: () => number
  #state: PipelineState = 'starting'
  #reason = 'connecting to PostgreSQL'
  #heardAt = 0

  constructor(windowMs: number, now: () => number = Date.now) {
    this.#windowMs = windowMs
    this.#now = now
  }

  get state(): PipelineState {
    return this.#state
  }

  /** A new state, with what it is waiting for (for the not-ready line). */
  enter(state: PipelineState, reason = ''): void {
    this.#state = state
    this.#reason = reason
    if (state === 'streaming') this.#heardAt = this.#now()
  }

  /** The server sent something on the replication connection. */
  heard(): void {
    this.#heardAt = this.#now()
  }

  readiness(): Readiness {
    switch (this.#state) {
      case 'standby':
        return { ready: true, reason: 'standing by: another process streams from the slot' }
      case 'streaming': {
        const silentMs = this.#now() - this.#heardAt
        if (silentMs <= this.#windowMs) return { ready: true, reason: 'streaming' }
        return { ready: false, reason: `streaming, but nothing heard from PostgreSQL for ${Math.round(silentMs / 1000)} s` }
      }
      case 'starting':
        return { ready: false, reason: `starting: ${this.#reason}` }
      case 'reconnecting':
        return { ready: false, reason: `not streaming: reconnecting after: ${this.#reason}` }
      case 'stopping':
        return { ready: false, reason: 'stopping' }
    }
  }
}
