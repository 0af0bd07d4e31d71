/**
 * @module The esbuild bundles: the CLI (`dist/pg-to-brokers.mjs`, its dependencies inlined, each
 * broker writer a separate file loaded only when chosen) and the library (`dist/mod.mjs` and its
 * subpath entries, dependencies left to npm).
 */
import { builtinModules } from 'node:module'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as esbuild from 'esbuild'
import { BUNDLED_PACKAGES, brokerWriters, libraryEntries } from './entries.ts'
import { DIST, ROOT } from './stamp.ts'

/** The CLI's outputs, relative to the root: the entry, its chunks and the writer files. */
export const CLI_ENTRY = 'dist/pg-to-brokers.mjs'
const CLI_DIR = 'dist/cli'
const LIB_DIR = 'dist/lib'

/** What the bundle step reports and leaves for the compile step. */
export interface BundleReport {
  /** Output path (relative to the root) → bytes. */
  readonly sizes: Record<string, number>
  /** Packages the CLI imports at run time instead of inlining (a writer's client library). */
  readonly cliExternals: string[]
}

const COMMON: esbuild.BuildOptions = {
  absWorkingDir: ROOT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  // Node 20 is the oldest supported runtime; Deno 2 and Bun run whatever Node 20 runs.
  target: 'node20',
  outdir: DIST,
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
  legalComments: 'eof',
}

/** Builds both bundles from scratch (old hashed chunks are removed first). */
export async function bundle(): Promise<BundleReport> {
  await Promise.all(
    [CLI_ENTRY, CLI_DIR, LIB_DIR, ...libraryEntries().map((e) => `dist/${e.name}.mjs`)].map((p) => rm(join(ROOT, p), { recursive: true, force: true })),
  )
  await mkdir(DIST, { recursive: true })
  const cli = await esbuild.build({
    ...COMMON,
    metafile: true,
    // Each writer is an entry of its own so that its file has a stable name (dist/cli/writers/kafka.mjs)
    // and the registry's `import('./kafka/mod.ts')` is rewritten to it.
    entryPoints: { 'pg-to-brokers': 'src/cli/entry.ts', ...Object.fromEntries(brokerWriters().map((w) => [`cli/writers/${w}`, `src/writers/${w}/mod.ts`])) },
    chunkNames: 'cli/[name]-[hash]',
    plugins: [inlineOnly(BUNDLED_PACKAGES)],
  })
  const lib = await esbuild.build({
    ...COMMON,
    metafile: true,
    entryPoints: Object.fromEntries(libraryEntries().map((e) => [e.name, e.source])),
    chunkNames: 'lib/[name]-[hash]',
    packages: 'external',
  })
  const cliExternals = externalPackages(cli.metafile)
  assertCoreHasNoExternals(cli.metafile)
  await mkdir(join(DIST, '.build'), { recursive: true })
  await writeFile(join(DIST, '.build', 'cli-externals.json'), JSON.stringify(cliExternals) + '\n')
  return { sizes: { ...sizes(cli.metafile), ...sizes(lib.metafile) }, cliExternals }
}

/**
 * Inlines the listed packages and Node built-ins' `node:` imports; leaves every other package as
 * an import, so a writer's client library (and its native add-ons) is loaded from node_modules
 * only when that writer is chosen. Built-ins get the `node:` prefix that Deno requires.
 */
function inlineOnly(packages: readonly string[]): esbuild.Plugin {
  const builtins = new Set(builtinModules)
  return {
    name: 'inline-only',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:')) return { path: args.path, external: true }
        if (builtins.has(args.path) || builtins.has(args.path.split('/')[0]!)) return { path: `node:${args.path}`, external: true }
        if (packages.includes(packageName(args.path))) return undefined
        return { path: args.path, external: true }
      })
    },
  }
}

function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!
}

function externalPackages(metafile: esbuild.Metafile): string[] {
  const names = new Set<string>()
  for (const output of Object.values(metafile.outputs)) {
    for (const i of output.imports) if (i.external && !i.path.startsWith('node:')) names.add(packageName(i.path))
  }
  return [...names].sort()
}

/** The CLI entry and what it imports statically must not import a package: those belong to lazily loaded writers. */
function assertCoreHasNoExternals(metafile: esbuild.Metafile): void {
  const seen = new Set<string>()
  const visit = (path: string): void => {
    if (seen.has(path)) return
    seen.add(path)
    for (const i of metafile.outputs[path]?.imports ?? []) {
      if (i.kind !== 'import-statement') continue
      if (i.external && !i.path.startsWith('node:'))
        throw new Error(`${path} imports "${i.path}" statically: a writer's client library must only be imported when that writer is chosen`)
      if (!i.external) visit(i.path)
    }
  }
  visit(CLI_ENTRY)
}

function sizes(metafile: esbuild.Metafile): Record<string, number> {
  return Object.fromEntries(Object.entries(metafile.outputs).map(([path, output]) => [path, output.bytes]))
}
