/**
 * @module Standalone executables for linux-x64 from the CLI bundle: `bun build --compile` and
 * `deno compile -A`. Both embed the writer files the bundle imports lazily, so `--writer kafka`
 * works without node_modules; user writer modules are still loaded from disk at run time.
 */
import { spawnSync } from 'node:child_process'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { dependencyRange } from './entries.ts'
import { DIST, ROOT } from './stamp.ts'

export const BUN_EXECUTABLE = 'dist/pg-to-brokers-bun'
export const DENO_EXECUTABLE = 'dist/pg-to-brokers-deno'

/**
 * V8 flags baked into the Deno executable, so that its users get them without knowing: V8 otherwise
 * lets its young generation grow to 32 MB under a steady stream. (Bun's `--smol`, the one memory
 * knob a Bun executable can carry, lowered no peak in a measurement: README, "Performance and memory".)
 */
export const DENO_V8_FLAGS = ['--max-semi-space-size=4']

/** `ok: false` with a note when the tool cannot build here (the build goes on without it). */
export interface CompileResult {
  readonly ok: boolean
  readonly note?: string
}

const BIN = join(ROOT, 'node_modules', '.bin')

export function compileBun(): CompileResult {
  // From the root, so that the Kafka client the bundle imports lazily resolves from node_modules and is embedded.
  const run = spawnSync(join(BIN, 'bun'), ['build/bun-compile.ts', 'dist/pg-to-brokers.mjs', BUN_EXECUTABLE], { cwd: ROOT, encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`bun build --compile failed:\n${run.stdout}${run.stderr}${run.error?.message ?? ''}`)
  return { ok: true }
}

/**
 * `deno compile` from a copy of the bundle in a temporary folder whose deno.json maps the bundle's
 * external packages to npm: specifiers. Compiled in the repository instead, Deno would see
 * package.json with `nodeModulesDir: manual` and embed all of node_modules (450 MB).
 *
 * Deno builds the executable on `denort`, which it downloads from dl.deno.land on first use (no
 * npm package ships it). Where that host is unreachable and `DENORT_BIN` does not name a denort
 * binary of the same Deno version, the executable cannot be built: reported, not thrown.
 */
export async function compileDeno(): Promise<CompileResult> {
  const stage = await mkdtemp(join(tmpdir(), 'pg-to-brokers-deno-'))
  try {
    await cp(join(DIST, 'pg-to-brokers.mjs'), join(stage, 'pg-to-brokers.mjs'))
    await cp(join(DIST, 'cli'), join(stage, 'cli'), { recursive: true })
    await writeFile(join(stage, 'deno.json'), JSON.stringify({ imports: await npmImports() }, null, 2))
    await rm(join(ROOT, DENO_EXECUTABLE), { force: true })
    const run = spawnSync(
      join(BIN, 'deno'),
      ['compile', '-A', '--no-check', `--v8-flags=${DENO_V8_FLAGS.join(',')}`, '--output', join(ROOT, DENO_EXECUTABLE), 'pg-to-brokers.mjs'],
      {
        cwd: stage,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      },
    )
    if (run.status === 0) return { ok: true }
    const output = `${run.stdout}${run.stderr}${run.error?.message ?? ''}`
    if (/denort|Setting up base binary|dl\.deno\.land/.test(output)) {
      const reason =
        output
          .split('\n')
          .find((line) => /error sending request|Could not find|dns error/.test(line))
          ?.trim()
          .replace(/^\d+:\s*/, '') ?? 'the denort runtime could not be obtained'
      return { ok: false, note: `deno compile needs denort (downloaded from dl.deno.land, or DENORT_BIN=<path to denort ${denoVersion()}>): ${reason}` }
    }
    throw new Error(`deno compile failed:\n${output}`)
  } finally {
    await rm(stage, { recursive: true, force: true })
  }
}

/** The CLI's external packages (a writer's client library) as npm: specifiers at package.json's ranges. */
async function npmImports(): Promise<Record<string, string>> {
  const externals = JSON.parse(await readFile(join(DIST, '.build', 'cli-externals.json'), 'utf8')) as string[]
  return Object.fromEntries(
    externals.map((name) => {
      const range = dependencyRange(name)
      if (range === undefined) throw new Error(`the CLI bundle imports "${name}", which package.json does not list in "dependencies"`)
      return [name, `npm:${name}@${range}`]
    }),
  )
}

function denoVersion(): string {
  const run = spawnSync(join(BIN, 'deno'), ['--version'], { encoding: 'utf8' })
  return /deno (\S+)/.exec(run.stdout ?? '')?.[1] ?? ''
}
