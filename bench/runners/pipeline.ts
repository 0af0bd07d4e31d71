/**
 * @module The consumer under test: runPipeline with the StdoutWriter (the harness points stdout at
 * /dev/null) and the default record format. Stops once the slot's flushed LSN reaches the job's
 * target (PipelineOptions.onFlushed), or, for a latency job, once the expected rows are confirmed.
 */
import process from 'node:process'
// The modules mod.ts re-exports, imported directly so the bundle leaves out the CLI (as the package's code-split dist does).
import type { Change } from '../../src/change/change.ts'
import { runPipeline } from '../../src/pipeline/pipeline.ts'
import { StdoutWriter } from '../../src/writers/stdout.ts'
import { CountingFormat } from './counting-format.ts'
import { memoryUsage, nowMs, parseLsnText, readJob, selfPeakRss, writeReport, type Job } from './job.ts'

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01), in ms. */
const PG_EPOCH_MS = 946_684_800_000

/** For latency jobs, the counting format also notes each transaction's commit time. */
class LatencyFormat extends CountingFormat {
  readonly #commits: { lsn: bigint; timeMs: number }[] = []
  lastCommitLsn = -1n

  override encode(change: Change): Uint8Array {
    if (change.commitLsn !== this.lastCommitLsn) {
      this.lastCommitLsn = change.commitLsn
      if (change.commitTime !== null) this.#commits.push({ lsn: change.commitLsn, timeMs: Number(change.commitTime) / 1000 + PG_EPOCH_MS })
    }
    return super.encode(change)
  }

  /** Latencies of the transactions whose commit record lies before `flushed`, acknowledged at `atMs`. */
  acknowledge(flushed: bigint, atMs: number, into: number[]): void {
    const commits = this.#commits
    let done = 0
    while (done < commits.length && commits[done]!.lsn < flushed) into.push(atMs - commits[done++]!.timeMs)
    commits.splice(0, done)
  }
}

async function main(job: Job): Promise<void> {
  const target = parseLsnText(job.targetLsn)
  const latency = job.latency ? new LatencyFormat() : undefined
  const format = latency ?? new CountingFormat()
  const latencies: number[] = []
  const controller = new AbortController()
  let started = 0
  let finished = 0
  // A latency job stops once the transaction holding the expected last row is confirmed.
  let lastRowCommit: bigint | undefined
  const onFlushed = (lsn: bigint) => {
    const at = nowMs()
    latency?.acknowledge(lsn, at, latencies)
    if (latency && lastRowCommit === undefined && latency.rows >= job.expectedRows) lastRowCommit = latency.lastCommitLsn
    const done = latency ? lastRowCommit !== undefined && lsn > lastRowCommit : lsn >= target
    if (done && !controller.signal.aborted) {
      finished = at
      controller.abort()
    }
  }
  await runPipeline({
    postgres: { url: job.url, slot: job.slot, publication: job.publication, tables: [], createSlot: false, createPublication: false },
    writer: new StdoutWriter(),
    format,
    ...(job.batchLatencyMs === undefined ? {} : { batch: { maxLatencyMs: job.batchLatencyMs } }),
    signal: controller.signal,
    onFlushed,
    onStreaming: () => (started = nowMs()),
  })
  writeReport(job, {
    rows: format.rows,
    streamingMs: finished - started,
    peakRss: selfPeakRss(),
    memory: memoryUsage(),
    ...(latency ? { latenciesMs: latencies } : {}),
  })
}

await main(readJob())
// Exit at once: idle sockets and timers of the drivers must not add to the measured time.
process.exit(0)
