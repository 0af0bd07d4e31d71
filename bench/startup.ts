/**
 * @module Sizes of the built artifacts and the time each takes to print `--help` (the start-up
 * cost: load, parse, run to exit), median of 5 runs after one warm-up. Prints a Markdown table
 * for README "Distribution". Builds dist/ first if needed (`npm run build`).
 *
 *   node_modules/.bin/tsx bench/startup.ts
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'node_modules', '.bin')
const RUNS = 5

interface Row {
  readonly what: string
  readonly command: readonly string[]
  /** The files the row's size adds up. */
  readonly files: readonly string[]
}

const ROWS: readonly Row[] = [
  { what: 'bundle on Node', command: ['node', 'dist/pg-to-brokers.mjs'], files: ['dist/pg-to-brokers.mjs', 'dist/cli'] },
  { what: 'bundle on Deno', command: [join(BIN, 'deno'), 'run', '-A', 'dist/pg-to-brokers.mjs'], files: ['dist/pg-to-brokers.mjs', 'dist/cli'] },
  { what: 'bundle on Bun', command: [join(BIN, 'bun'), 'dist/pg-to-brokers.mjs'], files: ['dist/pg-to-brokers.mjs', 'dist/cli'] },
  { what: 'Bun executable', command: ['dist/pg-to-brokers-bun'], files: ['dist/pg-to-brokers-bun'] },
  { what: 'Deno executable', command: ['dist/pg-to-brokers-deno'], files: ['dist/pg-to-brokers-deno'] },
  { what: 'sources on Node (tsx)', command: ['node', '--import', 'tsx', 'src/cli/entry.ts'], files: [] },
  { what: 'sources on Deno', command: [join(BIN, 'deno'), 'run', '-A', 'mod.ts'], files: [] },
  { what: 'sources on Bun', command: [join(BIN, 'bun'), 'mod.ts'], files: [] },
]

function main(): void {
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' })
  if (build.status !== 0) throw new Error('npm run build failed')
  const cpu = cpus()
  console.log(
    `\n${new Date().toISOString().slice(0, 10)}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ` +
      `${process.platform}-${process.arch}; \`--help\`, median of ${RUNS} after a warm-up\n`,
  )
  console.log('| artifact | size | `--help` |')
  console.log('|---|---:|---:|')
  for (const row of ROWS) {
    const missing =
      row.files.find((file) => !existsSync(join(ROOT, file))) ??
      (row.command[0]!.startsWith('dist/') && !existsSync(join(ROOT, row.command[0]!)) ? row.command[0] : undefined)
    if (missing) {
      console.log(`| ${row.what} | not built | — |`)
      continue
    }
    const size = row.files.length === 0 ? '—' : megabytes(row.files.reduce((sum, file) => sum + bytes(join(ROOT, file)), 0))
    console.log(`| ${row.what} | ${size} | ${Math.round(medianHelpMs(row.command))} ms |`)
  }
}

function medianHelpMs(command: readonly string[]): number {
  const times: number[] = []
  for (let i = 0; i <= RUNS; i++) {
    const started = performance.now()
    const run = spawnSync(command[0]!, [...command.slice(1), '--help'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
    const took = performance.now() - started
    if (run.status !== 0) throw new Error(`${command.join(' ')} --help exited ${run.status}: ${run.stderr?.toString() ?? ''}`)
    if (i > 0) times.push(took) // run 0 warms caches (Deno's code cache, the page cache)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]!
}

function bytes(path: string): number {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.size
  return readdirSync(path).reduce((sum, name) => sum + bytes(join(path, name)), 0)
}

function megabytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`
}

main()
