/**
 * @module The long fault campaign (`npm run faults`): at least 200 faults, then the tally.
 * `FAULTS=<n>` changes the count, `FAULT_SEED=<n>` replays a seed, `FAULT_TRACE=1` prints each fault,
 * `FAULT_KEEP_LOG=<file>` keeps the throwaway server's log.
 */
import process from 'node:process'
import { runCampaign } from './campaign.ts'

const LONG_FORM_FAULTS = 200

const started = Date.now()
const stamp = () => `${((Date.now() - started) / 1000).toFixed(1)}s`
const faults = Number(process.env.FAULTS || LONG_FORM_FAULTS)
try {
  const tally = await runCampaign({
    faults,
    ...(process.env.FAULT_SEED ? { seed: Number(process.env.FAULT_SEED) } : {}),
    log: (line) => console.log(`${stamp()} ${line}`),
    ...(process.env.FAULT_TRACE ? { trace: (line: string) => console.log(`${stamp()} ${line}`) } : {}),
  })
  console.log(`fault campaign passed (seed ${tally.seed}) in ${Math.round(tally.ms / 1000)} s:`)
  console.log(`  faults injected: ${JSON.stringify(tally.faults)} (${Object.values(tally.faults).reduce((a, b) => a + b, 0)} in all)`)
  console.log(`  CLI processes: ${tally.processes}; reconnections by itself after cuts and restarts: ${tally.reconnects}`)
  console.log(`  workload: ${tally.transactions} transactions (${tally.workloadFailures} failed during restarts and were retried)`)
  console.log(
    `  output: ${tally.lines} records, ${tally.unique} distinct, ${tally.duplicates} duplicates (all byte-identical re-sends), ${tally.missing} missing`,
  )
  process.exit(0)
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error))
  process.exit(1)
}
