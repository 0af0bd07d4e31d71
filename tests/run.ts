/** @module Runs the test suite: `tests/run.ts [unit|integration|all] [filter]`. */
import { runTests } from './harness.ts'

const suites: Record<string, string[]> = {
  unit: [
    './unit/lsn.test.ts',
    './unit/pgoutput.test.ts',
    './unit/values.test.ts',
    './unit/json-value.test.ts',
    './unit/config.test.ts',
  ],
  integration: [
    './integration/stream.test.ts',
  ],
}

const [suite = 'all', filter] = globalThis.process?.argv.slice(2) ?? []
const files = suite === 'all' ? [...(suites.unit ?? []), ...(suites.integration ?? [])] : suites[suite]
if (!files) throw new Error(`unknown suite "${suite}": use unit, integration or all`)
const failures = await runTests(files.map((f) => new URL(f, import.meta.url).href), filter)
globalThis.process?.exit(failures === 0 ? 0 : 1)
