/** @module The pipeline's side of the slot monitor: its clock of commit times, its start, and a lost slot's error in place of a stream failure. */
import type { Logger } from '../logger.ts'
import { CommitClock } from '../ops/commit-clock.ts'
import { DEFAULT_LAG_ALARMS, SlotMonitor, warnIfUnlimitedKeepSize } from '../ops/slot-monitor.ts'
import { readSlotSample } from '../ops/slot-state.ts'
import type { Catalog } from '../pg/catalog.ts'
import type { RunQuery } from '../pg/slot-markers.ts'
import type { PipelineOptions } from './pipeline.ts'

/** One clock per pipeline: reconnects keep it, and a reconnect starts with nothing waiting. */
const clocks = new WeakMap<PipelineOptions, CommitClock>()

/** The commit clock the pipeline feeds (see CommitClock) and the monitor reads. */
export function commitClockOf(options: PipelineOptions): CommitClock {
  let clock = clocks.get(options)
  if (!clock) clocks.set(options, (clock = new CommitClock()))
  return clock
}

/**
 * Starts polling the slot over the catalog connection. On the first start (not on a reconnect)
 * it first warns when max_slot_wal_keep_size is unlimited.
 */
export async function startSlotMonitor(catalog: Catalog, options: PipelineOptions, logger: Logger): Promise<SlotMonitor> {
  const query: RunQuery = (text, parameters) => catalog.query(text, parameters)
  const slot = options.postgres.slot
  if (options.resume !== true) await warnIfUnlimitedKeepSize(query, logger, slot)
  const clock = commitClockOf(options)
  const monitor = new SlotMonitor({
    slot,
    alarms: { ...DEFAULT_LAG_ALARMS, ...options.lagAlarms },
    read: () => readSlotSample(query, slot),
    lagSeconds: (now) => clock.lagSeconds(now),
    logger,
    onSample: options.onSlotSample,
  })
  monitor.start()
  return monitor
}

/** How long a failed stream waits for one more look at the slot: a partitioned network must not hold up the reconnect. */
const LAST_LOOK_MS = 5000

/** What a failed stream is reported as: the slot_lost error when the slot was invalidated under it (the server then ends the stream), else the failure itself. */
export async function lostOr(monitor: SlotMonitor | undefined, error: unknown): Promise<unknown> {
  if (!monitor) return error
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), LAST_LOOK_MS)))
  try {
    return (await Promise.race([monitor.check(), timeout])) ?? monitor.lost ?? error
  } finally {
    clearTimeout(timer)
  }
}
