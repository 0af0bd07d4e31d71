/**
 * @module A minimal HTTP server for the metrics and health endpoints. It uses `node:http`, which
 * Node, Deno 2 and Bun all implement (checked on each: same requests, same EADDRINUSE): one code
 * path instead of three adapters (Deno.serve, Bun.serve) that would differ in error reporting.
 */
import { createServer, type Server } from 'node:http'

/** What a handler answers; the body is text. */
export interface HttpAnswer {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

export interface HttpServer {
  /** The port listened on (the one asked for, or the one chosen for port 0). */
  readonly port: number
  /** Stops listening and drops open connections. */
  close(): Promise<void>
}

/** Why listening failed, in the runtime's own code (EADDRINUSE, EADDRNOTAVAIL, EACCES, ENOTFOUND, …). */
export class ListenError extends Error {
  override name = 'ListenError'
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/**
 * Listens on `host`:`port` and answers each request with `handle(method, path)` (the path without
 * its query). @throws ListenError when the address cannot be listened on.
 */
export function serveHttp(host: string, port: number, handle: (method: string, path: string) => HttpAnswer): Promise<HttpServer> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]!
    let answer: HttpAnswer
    try {
      answer = handle(request.method ?? 'GET', path)
    } catch (error) {
      answer = { status: 500, contentType: 'text/plain; charset=utf-8', body: `internal error: ${String(error)}\n` }
    }
    response.writeHead(answer.status, { 'content-type': answer.contentType, 'cache-control': 'no-store' })
    response.end(request.method === 'HEAD' ? undefined : answer.body)
  })
  return new Promise((resolve, reject) => {
    server.once('error', (error: Error & { code?: string }) => reject(new ListenError(error.code ?? 'UNKNOWN', error.message)))
    server.listen(port, host, () => {
      const address = server.address()
      resolve({ port: typeof address === 'object' && address !== null ? address.port : port, close: () => closeServer(server) })
    })
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    // Keep-alive connections of a scraper would hold close() open until they time out.
    ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
  })
}
