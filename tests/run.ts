/** @module Runs the test suite: `tests/run.ts [unit|integration|all] [filter]`; test files are found by name. */
import { readdirSync } from 'node:fs'
import { runTests } from './harness.ts'

const SUITES = ['unit', 'integration'] as const

function filesOf(suite: string): string[] {
  const folder = new URL(`./${suite}/`, import.meta.url)
  return readdirSync(folder)
    .filter((name) => name.endsWith('.test.ts'))
    .sort()
    .map((name) => new URL(name, folder).href)
}

const [suite = 'all', filter] = globalThis.process?.argv.slice(2) ?? []
if (suite !== 'all' && !(SUITES as readonly string[]).includes(suite)) throw new Error(`unknown suite "${suite}": use unit, integration or all`)
const files = (suite === 'all' ? [...SUITES] : [suite]).flatMap(filesOf)
const { failed } = await runTests(files, filter)
// Skipped tests do not fail the run: they say why they could not run here.
globalThis.process?.exit(failed === 0 ? 0 : 1)
