/** @module `pg-to-brokers snapshot`: asks a running instance (through the snapshot table) to read tables again, or cancels that. */
import type { Config } from '../config/load.ts'
import type { SnapshotArgs } from '../config/flags.ts'
import type { Logger } from '../logger.ts'
import { writeStdout } from '../runtime/io.ts'
import type { SnapshotRequest } from '../snapshot/progress-store.ts'
import { cancelSnapshots, requestSnapshots } from '../snapshot/requests.ts'

/**
 * Requests (or cancels) snapshots for the configured slot, with the same connection settings as
 * `run`. Prints one line per request on stdout: its id, its table and its status.
 * @throws PgToBrokersError when a table cannot be snapshotted or a snapshot of it is already active (nothing is requested then).
 */
export async function snapshotCommand(config: Config, args: SnapshotArgs, logger: Logger): Promise<void> {
  const pg = config.postgres
  const target = { url: pg.url, connectTimeoutMs: pg.connectTimeoutMs, slot: pg.slot, stateTable: pg.stateTable }
  if (args.cancel) {
    const cancelled = await cancelSnapshots({ ...target, tables: args.tables })
    await printRequests(cancelled)
    if (cancelled.length === 0) logger.info('no requested or running snapshot matched: nothing was cancelled', { slot: pg.slot })
    else logger.info('snapshots cancelled; a running instance stops reading them after its current chunk', { slot: pg.slot, count: cancelled.length })
    return
  }
  const requests = await requestSnapshots({ ...target, publication: pg.publication, tables: args.tables, where: args.where })
  await printRequests(requests)
  logger.info('snapshots requested: an instance streaming from the slot starts them within a second (or when it starts)', {
    slot: pg.slot,
    count: requests.length,
  })
}

async function printRequests(requests: readonly SnapshotRequest[]): Promise<void> {
  if (requests.length === 0) return
  await writeStdout(requests.map((request) => `${request.id}\t${request.table}\t${request.status}\n`).join(''))
}
