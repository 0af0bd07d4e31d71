/**
 * @module The metrics listener: `/metrics` (Prometheus text), `/healthz` (the process and its event
 * loop are alive) and `/readyz` (streaming, or standing by, with a recent exchange with the server).
 */
import { ListenError, serveHttp, type HttpAnswer } from '../runtime/http.ts'
import { EXPOSITION_CONTENT_TYPE } from './metrics.ts'
import type { PipelineMetrics } from './pipeline-metrics.ts'

/** How often the liveness timer ticks. */
const TICK_MS = 1000
/** `/healthz` fails when the timer has not ticked for this long: the event loop is stuck or starved. */
export const LIVENESS_MS = 5000

export interface ListenAddress {
  readonly host: string
  readonly port: number
}

export interface MetricsServer {
  readonly port: number
  close(): Promise<void>
}

const TEXT = 'text/plain; charset=utf-8'

/**
 * Starts serving. @throws ListenError with a message saying what to change (a port in use, an
 * address this host does not have).
 */
export async function startMetricsServer(address: ListenAddress, metrics: PipelineMetrics, now: () => number = Date.now): Promise<MetricsServer> {
  let tickedAt = now()
  const handle = (method: string, path: string): HttpAnswer => {
    if (method !== 'GET' && method !== 'HEAD') return { status: 405, contentType: TEXT, body: 'only GET and HEAD\n' }
    if (path === '/metrics') return { status: 200, contentType: EXPOSITION_CONTENT_TYPE, body: metrics.render() }
    if (path === '/healthz') {
      const silentMs = now() - tickedAt
      if (silentMs <= LIVENESS_MS) return { status: 200, contentType: TEXT, body: 'ok\n' }
      return { status: 503, contentType: TEXT, body: `event loop stalled: no timer tick for ${Math.round(silentMs / 1000)} s\n` }
    }
    if (path === '/readyz') {
      const { ready, reason } = metrics.readiness()
      return { status: ready ? 200 : 503, contentType: TEXT, body: `${reason}\n` }
    }
    return { status: 404, contentType: TEXT, body: 'not found: try /metrics, /healthz or /readyz\n' }
  }
  let server
  try {
    server = await serveHttp(address.host, address.port, handle)
  } catch (error) {
    throw error instanceof ListenError ? explainListenError(error, address) : error
  }
  const timer = setInterval(() => (tickedAt = now()), TICK_MS)
  return {
    port: server.port,
    close: async () => {
      clearInterval(timer)
      await server.close()
    },
  }
}

function explainListenError(error: ListenError, { host, port }: ListenAddress): ListenError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`
  const why: Record<string, string> = {
    EADDRINUSE: `port ${port} is already in use on ${host}: stop what listens there, or choose another port`,
    EADDRNOTAVAIL: `${host} is not an address of this host: use 127.0.0.1, 0.0.0.0 or one of this host's addresses`,
    EINVAL: `${host} is not an address of this host: use 127.0.0.1, 0.0.0.0 or one of this host's addresses`,
    ENOTFOUND: `host name ${host} does not resolve: use an IP address such as 127.0.0.1`,
    EACCES: `not allowed to listen on port ${port}: ports below 1024 need privileges; choose a higher port`,
  }
  return new ListenError(error.code, `cannot listen on ${where}: ${why[error.code] ?? error.message}`)
}
