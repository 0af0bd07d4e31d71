/**
 * @module Standby: one active streamer per slot. A standby holds an advisory lock keyed on the
 * slot (so two standbys never race for it) and waits until the slot is free, then takes over.
 * PostgreSQL's slot ownership already allows only one walsender; the lease keeps standbys from
 * all rushing at a freed slot (and from racing to create it).
 */
import { sleep } from '../backoff.ts'
import type { Catalog } from '../pg/catalog.ts'
import { explainConnectionError } from '../pg/errors.ts'
import type { Logger } from '../logger.ts'

/** How often a standby looks at the lock and the slot. */
export const STANDBY_POLL_MS = 1000

/** What a standby waits for, and how it reports. */
export interface StandbyOptions {
  readonly slot: string
  /** For error messages only (never shown: explainConnectionError redacts it). */
  readonly url: string
  readonly logger: Logger
  readonly signal?: AbortSignal | undefined
  /** Called once, when waiting begins. */
  readonly onWaiting?: (() => void) | undefined
}

/**
 * Resolves true once this catalog session holds the slot's lease and no walsender uses the slot
 * (or it does not exist yet); false when `signal` aborts first. Logs once that it waits.
 * @throws PgToBrokersError when the catalog connection fails (pg_connection_lost and the like, which the supervisor retries).
 */
export async function waitForSlotLease(catalog: Catalog, options: StandbyOptions): Promise<boolean> {
  try {
    return await poll(catalog, options)
  } catch (error) {
    throw explainConnectionError(error, options.url, catalog.user)
  }
}

async function poll(catalog: Catalog, { slot, logger, signal, onWaiting }: StandbyOptions): Promise<boolean> {
  let waiting = false
  for (;;) {
    if (signal?.aborted) return false
    const leased = await catalog.tryLeaseSlot(slot)
    const activePid = leased ? ((await catalog.slot(slot))?.activePid ?? null) : null
    if (leased && activePid === null) {
      if (waiting) logger.info('standby: taking over the replication slot', { slot })
      return true
    }
    if (!waiting) {
      const holder = leased ? `a walsender (PID ${activePid})` : 'another pg_to_brokers process'
      logger.info(`standby: replication slot is in use by ${holder}; waiting to take over`, { slot, pollMs: STANDBY_POLL_MS })
      waiting = true
      onWaiting?.()
    }
    await sleep(STANDBY_POLL_MS, signal)
  }
}
