/**
 * @module A fault-injecting HTTP proxy between the Kinesis writer and the local Kinesis server,
 * on 127.0.0.1 only. Per request, chosen by a seeded PRNG and bounded by `maxFaults` (after that
 * everything passes untouched), it may:
 *   - answer 400 ProvisionedThroughputExceededException or 503 ServiceUnavailable without forwarding;
 *   - fail some records of a PutRecords: it forwards only the records it reports as stored, then
 *     merges the server's answer with ErrorCode ProvisionedThroughputExceededException entries for
 *     the others — exactly what Kinesis does (the failed records are not stored);
 *   - delay the request (long enough, the writer times out and retries while the original is
 *     still delivered later: a late duplicate);
 *   - drop the connection before forwarding (nothing stored) or after (stored, answer lost).
 * With `answer` set it stands in for AWS and answers every request with that error (kinesis-local
 * does not check signatures, so invalid or expired credentials are simulated here).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { mulberry32 } from '../seed.ts'

export interface FaultPlan {
  readonly seed: number
  /** Probability per request of each fault. */
  readonly throttle?: number
  readonly unavailable?: number
  readonly partial?: number
  /** Within a partially failed PutRecords, the probability per record of failing. */
  readonly partialRecord?: number
  readonly delay?: number
  readonly delayMs?: readonly [number, number]
  readonly dropBefore?: number
  readonly dropAfter?: number
  /** Faults injected at most; later requests pass untouched. */
  readonly maxFaults?: number
  /** Answer requests with this error instead of forwarding (the first `answerCount` PutRecords only, if set). */
  readonly answer?: { readonly status: number; readonly type: string; readonly message: string }
  readonly answerCount?: number
}

type Fault = 'throttle' | 'unavailable' | 'partial' | 'delay' | 'dropBefore' | 'dropAfter'

export class FaultProxy {
  readonly endpoint: string
  /** How often each fault was injected, plus `forwarded` and `requests`. */
  readonly counts: Record<string, number> = { requests: 0, forwarded: 0, failedRecords: 0 }
  readonly #server: Server
  readonly #target: string
  readonly #plan: FaultPlan
  readonly #random: () => number
  readonly #sockets = new Set<Socket>()
  #faults = 0
  #answered = 0

  private constructor(server: Server, port: number, target: string, plan: FaultPlan) {
    this.#server = server
    this.endpoint = `http://127.0.0.1:${port}`
    this.#target = target
    this.#plan = plan
    this.#random = mulberry32(plan.seed)
  }

  static start(target: string, plan: FaultPlan): Promise<FaultProxy> {
    return new Promise((resolve, reject) => {
      let proxy: FaultProxy | undefined
      const server = createServer((req, res) => void proxy!.#handle(req, res).catch(() => res.socket?.destroy()))
      server.on('connection', (socket) => (proxy!.#sockets.add(socket), socket.on('close', () => proxy!.#sockets.delete(socket))))
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        const address = server.address()
        proxy = new FaultProxy(server, typeof address === 'object' && address ? address.port : 0, target.replace(/\/+$/, ''), plan)
        resolve(proxy)
      })
    })
  }

  /** Stops listening and drops every open connection. */
  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counts.requests!++
    const body = await readBody(req)
    const operation =
      String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop() ?? ''
    const answer = this.#plan.answer
    if (answer && (this.#plan.answerCount === undefined || (operation === 'PutRecords' && this.#answered++ < this.#plan.answerCount))) {
      return reply(res, answer.status, { __type: answer.type, message: answer.message }, answer.type)
    }
    const fault = operation === 'PutRecords' ? this.#pick() : undefined
    if (fault) this.counts[fault] = (this.counts[fault] ?? 0) + 1
    switch (fault) {
      case 'throttle':
        return reply(
          res,
          400,
          { __type: 'ProvisionedThroughputExceededException', message: 'Rate exceeded for stream (injected)' },
          'ProvisionedThroughputExceededException',
        )
      case 'unavailable':
        return reply(res, 503, { __type: 'ServiceUnavailable', message: 'Service unavailable (injected)' }, 'ServiceUnavailable')
      case 'dropBefore':
        return void req.socket.destroy()
      case 'delay': {
        const [low, high] = this.#plan.delayMs ?? [100, 500]
        await new Promise((resolve) => setTimeout(resolve, low + this.#random() * (high - low)))
        break
      }
      case 'partial':
        return this.#partial(req, res, body)
    }
    const upstream = await this.#forward(req, body)
    if (fault === 'dropAfter') return void req.socket.destroy()
    res.writeHead(upstream.status, { 'Content-Type': 'application/x-amz-json-1.1' }).end(upstream.text)
  }

  /** Forwards only the records reported as stored; the others get ErrorCode entries in the merged answer. */
  async #partial(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const request = JSON.parse(body) as { Records: unknown[] } & Record<string, unknown>
    const failing = request.Records.map(() => this.#random() < (this.#plan.partialRecord ?? 0.5))
    const kept = request.Records.filter((_, i) => !failing[i])
    let results: Record<string, unknown>[] = []
    let upstreamFailed = 0
    if (kept.length > 0) {
      const upstream = await this.#forward(req, JSON.stringify({ ...request, Records: kept }))
      if (upstream.status !== 200) return void res.writeHead(upstream.status, { 'Content-Type': 'application/x-amz-json-1.1' }).end(upstream.text)
      const answer = JSON.parse(upstream.text) as { FailedRecordCount?: number; Records: Record<string, unknown>[] }
      results = answer.Records
      upstreamFailed = answer.FailedRecordCount ?? 0
    }
    const merged: Record<string, unknown>[] = []
    let next = 0
    for (const fails of failing) {
      if (fails) merged.push({ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard (injected)' })
      else merged.push(results[next++]!)
    }
    const injected = failing.filter(Boolean).length
    this.counts.failedRecords! += injected
    reply(res, 200, { FailedRecordCount: upstreamFailed + injected, Records: merged })
  }

  async #forward(req: IncomingMessage, body: string): Promise<{ status: number; text: string }> {
    this.counts.forwarded!++
    const headers = new Headers()
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string' && !['host', 'content-length', 'connection'].includes(name)) headers.set(name, value)
    }
    const response = await fetch(this.#target + (req.url ?? '/'), { method: req.method ?? 'POST', headers, body })
    return { status: response.status, text: await response.text() }
  }

  #pick(): Fault | undefined {
    if (this.#faults >= (this.#plan.maxFaults ?? Number.POSITIVE_INFINITY)) return undefined
    const faults: [Fault, number | undefined][] = [
      ['throttle', this.#plan.throttle],
      ['unavailable', this.#plan.unavailable],
      ['partial', this.#plan.partial],
      ['delay', this.#plan.delay],
      ['dropBefore', this.#plan.dropBefore],
      ['dropAfter', this.#plan.dropAfter],
    ]
    let roll = this.#random()
    for (const [fault, probability] of faults) {
      roll -= probability ?? 0
      if (roll < 0) {
        this.#faults++
        return fault
      }
    }
    return undefined
  }
}

function reply(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-amz-json-1.1' }
  if (errorType) headers['x-amzn-ErrorType'] = errorType
  res.writeHead(status, headers).end(JSON.stringify(body))
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (text += chunk))
    req.on('end', () => resolve(text))
    req.on('error', reject)
  })
}
