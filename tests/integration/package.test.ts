// The packages as users install them: the library bundle exports what mod.ts exports (on the
// runtime the suite runs on), the npm tarball installs and its bin and types work, a writer module
// extending StreamWriter from that installed package runs in the Bun executable, and the JSR
// package passes its publish checks.
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { pathToFileURL } from 'node:url'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { artifact, BIN, DIST_TEST_TIMEOUT_MS, distribution, fromFile, streamWorkload } from './artifacts.ts'
import { currentRuntime, REPO_ROOT } from './process.ts'

/** What mod.ts exports at run time (types vanish); a change here is a change of the public API. */
const LIBRARY_API = [
  'DebeziumFormat',
  'FileWriter',
  'JsonText',
  'PgToBrokersError',
  'SeedFormat',
  'StdoutWriter',
  'StreamWriter',
  'UNCHANGED_TOAST',
  'VERSION',
  'formatLsn',
  'parseLsn',
  'runPipeline',
  'runSupervised',
]

test(
  `distribution: mod.ts and dist/mod.mjs export the same API on ${currentRuntime()}`,
  async () => {
    await distribution()
    const sources = (await import('../../mod.ts')) as Record<string, unknown>
    const bundle = (await import(pathToFileURL(join(REPO_ROOT, 'dist', 'mod.mjs')).href)) as typeof import('../../mod.ts')
    assertEquals(Object.keys(sources).sort(), LIBRARY_API)
    assertEquals(Object.keys(bundle).sort(), LIBRARY_API)
    assertEquals(bundle.VERSION, sources.VERSION)
    assert(new bundle.StdoutWriter() instanceof bundle.StreamWriter, "StdoutWriter extends the bundle's StreamWriter")
    assertEquals(bundle.formatLsn(bundle.parseLsn('16/B374D848')), '16/B374D848')
    // Each subpath entry (deno.json "exports", e.g. ./kafka) exports the same names from the bundle as from the source.
    const exports = (JSON.parse(readFileSync(join(REPO_ROOT, 'deno.json'), 'utf8')) as { exports: Record<string, string> }).exports
    for (const [subpath, source] of Object.entries(exports)) {
      if (subpath === '.') continue
      const fromSource = Object.keys((await import(pathToFileURL(join(REPO_ROOT, source)).href)) as object).sort()
      const fromBundle = Object.keys((await import(pathToFileURL(join(REPO_ROOT, 'dist', `${subpath.slice(2)}.mjs`)).href)) as object).sort()
      assertEquals(fromBundle, fromSource, `exports of ${subpath}`)
    }
  },
  { timeoutMs: DIST_TEST_TIMEOUT_MS },
)

interface Installed {
  /** An npm project (its own folder) with the packed tarball installed. */
  readonly app: string
  /** The files the tarball holds. */
  readonly files: readonly string[]
}

let installed: Promise<Installed> | undefined
/** `npm pack`, then `npm install <tarball>` into a fresh project, once per suite run. */
function installedPackage(): Promise<Installed> {
  installed ??= (async () => {
    await distribution()
    const folder = await mkdtemp(join(tmpdir(), 'pgtb-npm-'))
    process.once('exit', () => rmSync(folder, { recursive: true, force: true }))
    // --ignore-scripts: prepack would build again (already done above) and print into the JSON.
    const [info] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', folder], REPO_ROOT)) as {
      filename: string
      files: { path: string }[]
    }[]
    const app = join(folder, 'app')
    await writeConsumer(app)
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', join(folder, info!.filename)], app)
    return { app, files: info!.files.map((f) => f.path) }
  })()
  return installed
}

test(
  'distribution: the npm package installs from its tarball; its bin runs and its types resolve',
  async () => {
    const { app, files } = await installedPackage()
    for (const file of ['bin/pg-to-brokers.mjs', 'dist/pg-to-brokers.mjs', 'dist/mod.mjs', 'dist/mod.d.ts', 'README.md'])
      assert(files.includes(file), `the package lacks ${file}`)
    for (const file of files) assert(!/^(src|tests|build)\/|pg-to-brokers-(bun|deno)$/.test(file), `the package should not hold ${file}`)
    assertEquals(spawnText('npx', ['--no-install', 'pg-to-brokers', '--version'], app), `pg-to-brokers ${(await import('../../mod.ts')).VERSION}\n`)
    spawnText(join(BIN, 'tsc'), ['-p', app], app)
  },
  { timeoutMs: DIST_TEST_TIMEOUT_MS },
)

test(
  'distribution: bun executable runs a .ts writer module extending StreamWriter from the installed package',
  async () => {
    const a = await artifact('bun executable')
    const { app } = await installedPackage()
    const module = join(app, 'extends-stream-writer.ts')
    const output = join(app, `records-${Date.now()}.jsonl`)
    await writeFile(
      module,
      [
        "import { appendFile } from 'node:fs/promises'",
        "import { StreamWriter, type WriterRecord } from 'pg-to-brokers'",
        'export default class AppendWriter extends StreamWriter {',
        '  constructor(private readonly options: { path: string }) { super() }',
        '  override async publish(records: readonly WriterRecord[]): Promise<void> {',
        "    await appendFile(this.options.path, records.map((r) => new TextDecoder().decode(r.data) + '\\n').join(''))",
        '  }',
        '}',
        '',
      ].join('\n'),
    )
    const lastValue = 'vier ✓ "StreamWriter from the package"'
    await streamWorkload(a.command, ['--writer-module', module, '--writer-option', `path=${output}`], fromFile(output), lastValue)
  },
  { timeoutMs: DIST_TEST_TIMEOUT_MS },
)

test('distribution: the JSR package passes deno publish --dry-run (explicit types, no slow types)', () => {
  const output = spawnText(join(BIN, 'deno'), ['publish', '--dry-run', '--allow-dirty'], REPO_ROOT, { NO_COLOR: '1' })
  assert(!/error\[/.test(output), output)
})

/** A TypeScript project that uses the package by name, as an npm consumer would (strict, NodeNext). */
async function writeConsumer(app: string): Promise<void> {
  await mkdir(app)
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  await writeFile(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: [] }, files: ['consumer.ts'] }),
  )
  await writeFile(
    join(app, 'consumer.ts'),
    [
      "import { runPipeline, StdoutWriter, StreamWriter, type WriterRecord } from 'pg-to-brokers'",
      'class Writer extends StreamWriter {',
      '  override async publish(records: readonly WriterRecord[]): Promise<void> {',
      '    await new StdoutWriter().publish(records)',
      '  }',
      '}',
      "export const run: Promise<void> = runPipeline({ postgres: { url: '', slot: 's', publication: 'p', tables: [], createSlot: true, " +
        'createPublication: true }, writer: new Writer() })',
      '',
    ].join('\n'),
  )
}

function npm(args: readonly string[], cwd: string): string {
  return spawnText('npm', args, cwd)
}

function spawnText(command: string, args: readonly string[], cwd: string, env: Record<string, string> = {}): string {
  const run = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 180_000, env: { ...process.env, ...env } })
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${run.status}):\n${run.stdout}${run.stderr}${run.error?.message ?? ''}`)
  return run.stdout
}
