/** @module The CLI's metrics listener: started before anything connects (a bad address is a configuration error), closed on exit. */
import { ConfigError, type Config } from '../config/load.ts'
import type { Logger } from '../logger.ts'
import { startMetricsServer } from '../ops/metrics-server.ts'
import { PipelineMetrics } from '../ops/pipeline-metrics.ts'
import { ListenError } from '../runtime/http.ts'
import { residentMemoryBytes } from '../runtime/memory.ts'

/** `/readyz` fails after this many status intervals without a message from the server (each interval asks for one). */
const MISSED_EXCHANGES = 3

export interface MetricsListener {
  readonly metrics: PipelineMetrics
  close(): Promise<void>
}

/**
 * Starts the listener when `metrics.listen` is set; undefined otherwise.
 * @throws ConfigError when the address cannot be listened on (in use, not this host's).
 */
export async function startMetricsListener(config: Config, logger: Logger): Promise<MetricsListener | undefined> {
  const address = config.metrics.listen
  if (address === undefined) return undefined
  const metrics = new PipelineMetrics({
    slot: config.postgres.slot,
    exchangeWindowMs: MISSED_EXCHANGES * config.postgres.statusIntervalMs,
    residentMemory: residentMemoryBytes,
  })
  try {
    const server = await startMetricsServer(address, metrics)
    logger.info('serving metrics', { listen: `${address.host}:${server.port}`, paths: '/metrics /healthz /readyz' })
    return { metrics, close: () => server.close() }
  } catch (error) {
    if (error instanceof ListenError) throw new ConfigError([`metrics.listen: ${error.message}`])
    throw error
  }
}
