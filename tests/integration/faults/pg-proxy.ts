/**
 * @module A TCP proxy between the tool and PostgreSQL, on 127.0.0.1 only, for fault injection:
 * it can cut every connection at once (both sides see the socket close, as after a network
 * failure) or stall them (no bytes move either way until the stall ends). Bounded: at most
 * MAX_CONNECTIONS at a time; more are refused by closing them.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'

const MAX_CONNECTIONS = 64

interface Pair {
  readonly client: Socket
  readonly upstream: Socket
  /** The client's first bytes as Latin-1 text: its startup message names the application. */
  opening: string
}

/** How many of a client's first bytes are kept to match `refuse` against. */
const OPENING_BYTES = 1024

/** A running proxy. `port` is where the tool connects. */
export class PgProxy {
  readonly port: number
  readonly #server: Server
  readonly #pairs = new Set<Pair>()
  #stalled = false
  #cutAtNextMessage: string | undefined

  private constructor(server: Server, port: number) {
    this.#server = server
    this.port = port
  }

  /** Listens on 127.0.0.1 (a free port) and forwards each connection to 127.0.0.1:`targetPort`. */
  static start(targetPort: number): Promise<PgProxy> {
    return new Promise((resolve, reject) => {
      let proxy: PgProxy | undefined
      const server = createServer((client) => (proxy ? proxy.#accept(client, targetPort) : client.destroy()))
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        proxy = new PgProxy(server, typeof address === 'object' && address ? address.port : 0)
        resolve(proxy)
      })
    })
  }

  /** Open connection pairs (for tallies and assertions). */
  get connections(): number {
    return this.#pairs.size
  }

  /** Destroys every open connection on both sides; new connections are accepted as before. */
  cutAll(): number {
    const cut = this.#pairs.size
    for (const pair of [...this.#pairs]) this.#drop(pair)
    return cut
  }

  /** Stops moving bytes on every connection (new ones too) for `ms`, then resumes. */
  async stall(ms: number): Promise<void> {
    this.#stalled = true
    for (const { client, upstream } of this.#pairs) client.pause(), upstream.pause()
    await new Promise((resolve) => setTimeout(resolve, ms))
    this.#stalled = false
    for (const { client, upstream } of this.#pairs) client.resume(), upstream.resume()
  }

  /**
   * Cuts the next connection whose startup message contained `text` (an application_name, say) as
   * soon as its client sends anything more: a query then fails in flight, as when the network dies mid-query.
   */
  cutAtNextMessage(text: string): void {
    this.#cutAtNextMessage = text
  }

  /** Stops listening and drops every connection. */
  close(): Promise<void> {
    this.cutAll()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }

  #accept(client: Socket, targetPort: number): void {
    if (this.#pairs.size >= MAX_CONNECTIONS) return void client.destroy()
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort })
    const pair: Pair = { client, upstream, opening: '' }
    this.#pairs.add(pair)
    client.on('data', (chunk: Buffer) => {
      const armed = this.#cutAtNextMessage
      if (armed !== undefined && pair.opening.includes(armed)) {
        this.#cutAtNextMessage = undefined
        return this.#drop(pair)
      }
      if (pair.opening.length < OPENING_BYTES) pair.opening += chunk.subarray(0, OPENING_BYTES - pair.opening.length).toString('latin1')
    })
    // pipe() would resume a paused source on drain; forwarding by hand keeps a stall a stall.
    forward(client, upstream, () => this.#stalled)
    forward(upstream, client, () => this.#stalled)
    for (const socket of [client, upstream]) {
      socket.on('error', () => this.#drop(pair))
      socket.on('close', () => this.#drop(pair))
    }
    if (this.#stalled) client.pause(), upstream.pause()
  }

  #drop(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return
    pair.client.destroy()
    pair.upstream.destroy()
  }
}

function forward(from: Socket, to: Socket, stalled: () => boolean): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause()
  })
  to.on('drain', () => {
    if (!stalled()) from.resume()
  })
}
