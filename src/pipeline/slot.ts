/**
 * @module The replication slot before streaming: it exists and fits, or is created only where that
 * loses nothing — a first start. A slot that vanished after this deployment streamed from it is a
 * gap in the stream, and is reported as one instead of being papered over with a new slot.
 */
import { PgToBrokersError } from '../errors.ts'
import type { Catalog, SlotInfo } from '../pg/catalog.ts'
import { parseQualifiedName, type QualifiedName } from '../pg/identifiers.ts'
import { DEFAULT_STATE_TABLE, type SlotMarker, type SlotMarkers } from '../pg/slot-markers.ts'
import type { Logger } from '../logger.ts'

export interface SlotOptions {
  readonly slot: string
  /** Create the slot at a first start (never on a reconnect, never over a lost slot). */
  readonly createSlot: boolean
  /** Where slot records live ("schema.table"); default public.pg_to_brokers_slots. */
  readonly stateTable?: string | undefined
  /** Consent to create a new slot over a lost one, skipping the changes in between (one run's setting, not a default). */
  readonly acceptDataLoss?: boolean | undefined
}

/** Set by the supervisor after streaming once: the slot must exist, whatever createSlot says. */
export interface SlotContext {
  readonly reconnect: boolean
}

/**
 * How a slot is created when a snapshot goes with it: `create` makes the slot (exporting its
 * snapshot) and returns its consistent point; with `recreateLost`, a lost slot is replaced, since
 * the snapshot that follows copies the tables again (nothing is skipped).
 */
export interface SlotCreation {
  readonly create: (slot: string) => Promise<string>
  readonly recreateLost: boolean
}

/**
 * Checks the slot, creates it on a first start, and keeps its record current. Returns whether it
 * created the slot.
 * @throws PgToBrokersError 'slot_lost' when a slot this deployment streamed from is gone; other codes for a slot that does not fit.
 */
export async function prepareSlot(catalog: Catalog, options: SlotOptions, context: SlotContext, logger: Logger, creation?: SlotCreation): Promise<boolean> {
  const markers = catalog.slotMarkers(stateTableOf(options))
  const replaceLost = (options.acceptDataLoss === true || creation?.recreateLost === true) && !context.reconnect
  const because = options.acceptDataLoss ? 'as --accept-data-loss allows' : 'and copying the tables again (snapshot mode when_needed)'
  let slot = await catalog.slot(options.slot)
  if (slot?.walStatus === 'lost' && replaceLost && slot.activePid === null) {
    logger.warn(`replication slot was invalidated (wal_status = lost); dropping it to create a new one ${because}`, { slot: options.slot })
    await catalog.dropSlot(options.slot)
    slot = undefined
  }
  if (slot) {
    await checkSlot(catalog, options.slot, slot)
    await rememberSlot(markers, options.slot, slot, logger)
    return false
  }
  const marker = await markers.read(options.slot)
  if (context.reconnect || marker) {
    const gap = await describeGap(catalog, options.slot, marker)
    if (!replaceLost) throw lostSlot(options.slot, gap)
    logger.warn(`replication slot was lost; creating a new one ${because}: ${gap}`, { slot: options.slot })
  } else if (!options.createSlot) {
    throw new PgToBrokersError(
      'slot_missing',
      `replication slot "${options.slot}" does not exist: create it with pg_create_logical_replication_slot('${options.slot}', ` +
        `'pgoutput') or enable createSlot`,
    )
  }
  const lsn = creation ? await creation.create(options.slot) : await catalog.createSlot(options.slot)
  try {
    await markers.record(options.slot, lsn)
  } catch (error) {
    // A slot without its record would be recreated silently if it were lost: do not keep it.
    await catalog.dropSlot(options.slot).catch(() => {})
    throw error
  }
  logger.info('created replication slot', { slot: options.slot, lsn })
  return true
}

/** The slot record table the options name, parsed. */
export function stateTableOf(options: Pick<SlotOptions, 'stateTable'>): QualifiedName {
  return parseQualifiedName(options.stateTable ?? DEFAULT_STATE_TABLE)
}

/** Forgets the slot's record after the tool dropped the slot on purpose (dropSlotOnExit). */
export async function forgetSlot(catalog: Catalog, options: SlotOptions): Promise<void> {
  await catalog.slotMarkers(stateTableOf(options)).forget(options.slot)
}

/** Notes the confirmed position at a clean stop, so a later loss names the smallest gap. */
export async function noteConfirmed(catalog: Catalog, options: SlotOptions, lsn: string): Promise<void> {
  await catalog.slotMarkers(stateTableOf(options)).confirm(options.slot, lsn)
}

async function checkSlot(catalog: Catalog, name: string, slot: SlotInfo): Promise<void> {
  if (slot.slotType !== 'logical') {
    throw new PgToBrokersError('slot_wrong_kind', `replication slot "${name}" is a ${slot.slotType} slot; a logical slot using pgoutput is needed`)
  }
  if (slot.plugin !== 'pgoutput') {
    throw new PgToBrokersError(
      'slot_wrong_plugin',
      `replication slot "${name}" uses the output plugin "${slot.plugin}", not pgoutput: drop it or choose another slot name`,
    )
  }
  const database = await catalog.currentDatabase()
  if (slot.database !== database) {
    throw new PgToBrokersError('slot_wrong_database', `replication slot "${name}" belongs to database "${slot.database}", not "${database}"`)
  }
  if (slot.twoPhase) {
    // With two_phase the server sends prepared transactions at PREPARE, before they commit or roll back.
    throw new PgToBrokersError(
      'slot_two_phase',
      `replication slot "${name}" was created with two_phase: its prepared transactions would be sent before they commit or roll back, ` +
        `which this tool does not handle. Use a slot created without two_phase (pg_create_logical_replication_slot('${name}', 'pgoutput'))`,
    )
  }
  if (slot.walStatus === 'lost') {
    throw lostSlot(name, `the server invalidated it (wal_status = lost) after removing WAL it still needed`)
  }
  if (slot.activePid !== null) {
    throw new PgToBrokersError(
      'slot_in_use',
      `replication slot "${name}" is in use by another process (PID ${slot.activePid}): stop that consumer, or use another slot`,
    )
  }
}

/** Records a slot found without a record (made by an administrator, or before records existed); refreshes its position otherwise. */
async function rememberSlot(markers: SlotMarkers, name: string, slot: SlotInfo, logger: Logger): Promise<void> {
  const lsn = slot.confirmedFlushLsn ?? '0/0'
  const marker = await markers.read(name)
  try {
    if (marker) await markers.confirm(name, lsn)
    else await markers.record(name, lsn)
  } catch (error) {
    if (!(error instanceof PgToBrokersError)) throw error
    // The slot exists, so nothing is lost now; only a later loss would go unnoticed.
    logger.warn(`a lost slot will not be detected: ${error.message}`, { slot: name })
  }
}

async function describeGap(catalog: Catalog, name: string, marker: SlotMarker | undefined): Promise<string> {
  const current = await catalog.currentWalLsn()
  const from = marker?.confirmedLsn ?? marker?.createdLsn
  const since = marker ? `it last confirmed ${from} (seen ${marker.confirmedAt ?? marker.createdAt})` : 'it was streamed from before this reconnect'
  const to = current ? `; the server's WAL is now at ${current}` : ''
  return `replication slot "${name}" no longer exists; ${since}${to}. Changes in between were not delivered, and the server no longer keeps them for this slot`
}

function lostSlot(name: string, gap: string): PgToBrokersError {
  return new PgToBrokersError(
    'slot_lost',
    `${gap.startsWith('replication slot') ? gap : `replication slot "${name}" is lost: ${gap}`}. ` +
      'To recover: start with --snapshot-mode when_needed, which creates a new slot and copies the tables again (a re-snapshot); ' +
      'or copy the tables into the broker yourself, then start once with --accept-data-loss (postgres.acceptDataLoss) to ' +
      'create a new slot at the current position; ' +
      'or restore the slot from where it was (e.g. the failed-over primary)',
  )
}
