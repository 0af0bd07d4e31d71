/**
 * @module `npm run build`: everything in dist/ (git-ignored), each step skipped while its inputs
 * are unchanged, so running it again is cheap and safe.
 *
 *   tsx build/build.ts [--force] [--no-compile]
 *
 * Steps: bundle (CLI and library, esbuild) → types (tsc) → export-map check → executables
 * (bun, deno). Exits 1 if a step failed. An executable this machine cannot build (deno compile
 * without its denort runtime) is reported and skipped; its stamp keeps the attempt from being
 * repeated until an input changes or `--force`.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import process from 'node:process'
import { bundle, CLI_ENTRY } from './bundle.ts'
import { BUN_EXECUTABLE, compileBun, compileDeno, DENO_EXECUTABLE, type CompileResult } from './compile.ts'
import { checkExportMaps } from './exports.ts'
import { acquireBuildLock } from './lock.ts'
import { freshStamp, hashInputs, ROOT, writeStamp } from './stamp.ts'
import { emitTypes } from './types.ts'

interface Step {
  readonly name: string
  readonly inputs: readonly string[]
  /** Versions of tools that shape the output, hashed with the inputs. */
  readonly tools?: () => string
  readonly outputs: readonly string[]
  readonly run: () => Promise<CompileResult & { readonly detail?: string }>
}

const SOURCES = ['mod.ts', 'src', 'deno.json', 'package.json', 'package-lock.json']

const STEPS: readonly Step[] = [
  {
    name: 'bundle',
    inputs: [...SOURCES, 'build/bundle.ts', 'build/entries.ts'],
    outputs: [CLI_ENTRY, 'dist/mod.mjs'],
    run: async () => {
      const report = await bundle()
      return { ok: true, detail: `${kb(report.sizes[CLI_ENTRY] ?? 0)} CLI entry; lazily loaded: ${report.cliExternals.join(', ') || 'none'}` }
    },
  },
  {
    name: 'types',
    inputs: [...SOURCES, 'tsconfig.json', 'build/tsconfig.types.json', 'build/types.ts'],
    outputs: ['dist/mod.d.ts'],
    run: async () => ({ ok: true, detail: `${(await emitTypes()).length} declaration files` }),
  },
  {
    name: 'bun-executable',
    inputs: [CLI_ENTRY, 'dist/cli', 'package-lock.json', 'build/compile.ts', 'build/bun-compile.ts'],
    tools: () => toolVersion('bun'),
    outputs: [BUN_EXECUTABLE],
    run: async () => compileBun(),
  },
  {
    name: 'deno-executable',
    inputs: [CLI_ENTRY, 'dist/cli', 'package-lock.json', 'build/compile.ts'],
    tools: () => `${toolVersion('deno')} ${process.env.DENORT_BIN ?? ''}`,
    outputs: [DENO_EXECUTABLE],
    run: () => compileDeno(),
  },
]

async function main(args: readonly string[]): Promise<number> {
  const force = args.includes('--force')
  const compile = !args.includes('--no-compile')
  const release = await acquireBuildLock()
  try {
    for (const step of STEPS) {
      if (!compile && step.name.endsWith('-executable')) continue
      if (!(await runStep(step, force))) return 1
      if (step.name === 'types' && !checkExports()) return 1
    }
    return 0
  } finally {
    release()
  }
}

/** Runs a step unless it is up to date; false when it failed. */
async function runStep(step: Step, force: boolean): Promise<boolean> {
  const hash = hashInputs(step.inputs, step.tools?.() ?? '')
  const stamp = force ? undefined : await freshStamp(step.name, hash, step.outputs)
  if (stamp) {
    console.log(`${step.name}: up to date${stamp.ok ? '' : ` (not built here: ${stamp.note})`}`)
    return true
  }
  const started = performance.now()
  try {
    const result = await step.run()
    await writeStamp(step.name, hash, result.ok, result.note)
    const took = `${Math.round(performance.now() - started)} ms`
    console.log(result.ok ? `${step.name}: built in ${took}${result.detail ? ` (${result.detail})` : ''}` : `${step.name}: NOT BUILT: ${result.note}`)
    return true
  } catch (error) {
    console.error(`${step.name}: FAILED: ${error instanceof Error ? error.message : String(error)}`)
    return false
  }
}

/** After the types step, fresh or not: a mismatched export map must fail every build. */
function checkExports(): boolean {
  const { problems, warnings } = checkExportMaps()
  for (const warning of warnings) console.log(`exports: warning: ${warning}`)
  for (const problem of problems) console.error(`exports: ${problem}`)
  return problems.length === 0
}

function toolVersion(tool: string): string {
  return spawnSync(join(ROOT, 'node_modules', '.bin', tool), ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? ''
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`
}

process.exitCode = await main(process.argv.slice(2))
