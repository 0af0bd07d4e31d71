/**
 * @module Runs under Bun (`bun build/bun-compile.ts <entry> <outfile>`): `bun build --compile`
 * through Bun.build, for the one thing the command line cannot do — redirect a package import.
 *
 * @platformatic/wasm-utils (under the Kafka client) reads `native.wasm` next to its module with
 * readFileSync, and a Bun executable does not embed that file (ENOENT '/$bunfs/…/native.wasm' on
 * the first Kafka batch). Its `./bundled` export carries the same WebAssembly inline.
 */

/** The part of Bun's API used here (the project type-checks without Bun's types). */
interface BunBuildApi {
  build(options: {
    entrypoints: string[]
    compile: { outfile: string; autoloadPackageJson: boolean }
    plugins: {
      name: string
      setup(build: { onResolve(options: { filter: RegExp }, resolve: (args: { path: string; importer: string }) => { path: string }): void }): void
    }[]
  }): Promise<{ success: boolean; logs: unknown[] }>
  resolveSync(specifier: string, from: string): string
}

const INLINED_ALTERNATIVES: Readonly<Record<string, string>> = { '@platformatic/wasm-utils': '@platformatic/wasm-utils/bundled' }

const bun = (globalThis as unknown as { Bun?: BunBuildApi }).Bun
const [entry, outfile] = (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2)
if (!bun || !entry || !outfile) throw new Error('usage: bun build/bun-compile.ts <entry> <outfile>')

const result = await bun.build({
  entrypoints: [entry],
  // Lets a writer module loaded at run time import packages (pg-to-brokers itself, a broker client)
  // from the node_modules next to it; without it every bare import fails with "Cannot find package".
  compile: { outfile, autoloadPackageJson: true },
  plugins: [
    {
      name: 'inlined-alternatives',
      setup(build) {
        const filter = new RegExp(
          `^(${Object.keys(INLINED_ALTERNATIVES)
            .map((name) => name.replace(/[/.]/g, '\\$&'))
            .join('|')})$`,
        )
        build.onResolve({ filter }, (args) => ({ path: bun.resolveSync(INLINED_ALTERNATIVES[args.path]!, args.importer) }))
      },
    },
  ],
})
if (!result.success) throw new Error(`Bun.build failed: ${JSON.stringify(result.logs)}`)
