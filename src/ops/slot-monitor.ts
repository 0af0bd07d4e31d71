/**
 * @module Watches the slot while streaming: a sample every few seconds, a warning when the lag
 * crosses a threshold (once per crossing), and a fatal error when the server invalidates the slot.
 */
import { PgToBrokersError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { RunQuery } from '../pg/slot-markers.ts'
import type { SlotSample } from './slot-sample.ts'
import { maxSlotWalKeepSize } from './slot-state.ts'

/** When the lag alarms fire and how often the slot is read. */
export interface LagAlarmOptions {
  /** Warn when the slot holds this many bytes of WAL on the server (its retained WAL, at least its lag). */
  readonly warnBytes: number
  /** Warn when the oldest transaction read but not yet delivered committed this many seconds ago. */
  readonly warnSeconds: number
  /** How often the slot is read, in seconds. */
  readonly pollSeconds: number
}

/** Sized for a small database: 1 GiB of WAL, five minutes, a look every ten seconds. */
export const DEFAULT_LAG_ALARMS: LagAlarmOptions = { warnBytes: 1024 * 1024 * 1024, warnSeconds: 300, pollSeconds: 10 }

export interface SlotMonitorOptions {
  readonly slot: string
  readonly alarms: LagAlarmOptions
  /** Reads the slot; undefined when it does not exist. */
  readonly read: () => Promise<SlotSample | undefined>
  /** Seconds the delivery is behind at `now` (see CommitClock). */
  readonly lagSeconds: (now: number) => number
  readonly logger: Logger
  readonly onSample?: ((sample: SlotSample) => void) | undefined
}

/** Polls the slot until stopped. A failed read is logged at debug and tried at the next poll: the stream reports lost connections itself. */
export class SlotMonitor {
  readonly #options: SlotMonitorOptions
  #timer: ReturnType<typeof setTimeout> | undefined
  #polling: Promise<void> = Promise.resolve()
  #stopped = false
  #lost: PgToBrokersError | undefined
  #overBytes = false
  #overSeconds = false

  constructor(options: SlotMonitorOptions) {
    this.#options = options
  }

  /** The slot_lost error once a poll found the slot invalidated. */
  get lost(): PgToBrokersError | undefined {
    return this.#lost
  }

  start(): void {
    this.#schedule()
  }

  /** Stops polling and waits for a poll in progress. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#polling
  }

  /** Reads the slot once now; resolves with the slot_lost error if it is lost. Never throws. */
  async check(): Promise<PgToBrokersError | undefined> {
    let sample: SlotSample | undefined
    try {
      sample = await this.#options.read()
    } catch (error) {
      this.#options.logger.debug('could not read the replication slot; trying again at the next poll', { reason: String(error) })
      return this.#lost
    }
    // A slot that vanished is left to the reconnect, whose slot_lost names the gap from the slot record.
    if (sample === undefined) return this.#lost
    this.#options.onSample?.(sample)
    if (sample.walStatus === 'lost') return this.#fail('the server invalidated it (wal_status = lost) after removing WAL it still needed')
    this.#alarms(sample)
    return undefined
  }

  #schedule(): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#polling = this.check().then(() => this.#schedule())
    }, this.#options.alarms.pollSeconds * 1000)
  }

  #alarms(sample: SlotSample): void {
    const { alarms, logger, slot } = this.#options
    const seconds = this.#options.lagSeconds(sample.at)
    // Retained WAL, not only the lag: while a transaction sent at commit waits for the writer, a
    // keepalive may confirm up to its commit record, so the lag looks small while the WAL stays on disk.
    const overBytes = sample.retainedBytes > alarms.warnBytes
    const overSeconds = seconds > alarms.warnSeconds
    const fields = { slot, lagBytes: sample.lagBytes, lagSeconds: Math.round(seconds), retainedBytes: sample.retainedBytes }
    if (overBytes && !this.#overBytes) {
      logger.warn(`replication slot holds more than ${alarms.warnBytes} bytes of WAL: the server keeps it on its disk until delivery catches up`, {
        ...fields,
        warnBytes: alarms.warnBytes,
      })
    }
    if (overSeconds && !this.#overSeconds) {
      logger.warn(`delivery is more than ${alarms.warnSeconds} s behind the commits: the writer is slow or blocked`, {
        ...fields,
        warnSeconds: alarms.warnSeconds,
      })
    }
    if (!overBytes && this.#overBytes) logger.info('replication slot WAL is back under the byte threshold', fields)
    if (!overSeconds && this.#overSeconds) logger.info('delivery caught up with the commits: lag is back under the time threshold', fields)
    this.#overBytes = overBytes
    this.#overSeconds = overSeconds
  }

  #fail(why: string): PgToBrokersError {
    this.#lost ??= slotLostWhileStreaming(this.#options.slot, why)
    this.#stopped = true
    return this.#lost
  }
}

/**
 * Warns when max_slot_wal_keep_size is unlimited (-1): then nothing stops a slot that falls behind
 * from filling the server's disk. Never throws: this is advice, not a check.
 */
export async function warnIfUnlimitedKeepSize(query: RunQuery, logger: Logger, slot: string): Promise<void> {
  const keepSize = await maxSlotWalKeepSize(query).catch(() => null)
  if (keepSize !== -1) return
  logger.warn(
    "max_slot_wal_keep_size is -1 (unlimited): if delivery stalls, the slot keeps every WAL segment and can fill the server's disk. " +
      "A limit (e.g. ALTER SYSTEM SET max_slot_wal_keep_size = '50GB'; SELECT pg_reload_conf()) protects the disk, but a slot that " +
      'falls further behind is then invalidated and its changes must be copied again (--snapshot-mode when_needed). Watch the lag alarms either way',
    { slot },
  )
}

function slotLostWhileStreaming(slot: string, why: string): PgToBrokersError {
  return new PgToBrokersError(
    'slot_lost',
    `replication slot "${slot}" was lost while streaming: ${why}. Changes after its last confirmed position can no longer be read. ` +
      'To recover: start with --snapshot-mode when_needed, which creates a new slot and copies the tables again (a re-snapshot), ' +
      'or copy them into the broker yourself and start once with --accept-data-loss',
  )
}
