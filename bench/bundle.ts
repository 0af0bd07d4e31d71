/**
 * @module Bundles the runner scripts for Node with esbuild, as the npm package ships its code:
 * running them through tsx would add its loader (~45 MB of RSS) to every Node measurement.
 */
import { resolve } from 'node:path'
import * as esbuild from 'esbuild'

export const RUNNERS = ['pipeline', 'pg-logical-replication', 'postgres-subscribe', 'broker'] as const

/**
 * Writes `<outdir>/<runner>.mjs` for every runner; unminified, so profiles name the source module.
 * `substitutes` maps a source path (relative to `root`) to a file bundled in its place: an A/B
 * comparison of one module (Node runs only) without touching the working tree.
 */
export async function buildBundles(root: string, outdir: string, substitutes: ReadonlyMap<string, string> = new Map()): Promise<void> {
  const replaced = new Map([...substitutes].map(([source, file]) => [resolve(root, source), resolve(file)]))
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(RUNNERS.map((r) => [r, `bench/runners/${r}.ts`])),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir,
    outExtension: { '.js': '.mjs' },
    // A substitute outside the tree still finds the project's packages.
    nodePaths: [resolve(root, 'node_modules')],
    logLevel: 'warning',
    // Loads a WebAssembly file from beside its own modules: imported from node_modules at run time.
    external: ['@platformatic/kafka'],
    // pg and pg-logical-replication are CommonJS and require() Node built-ins.
    banner: { js: `import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);` },
    plugins:
      replaced.size === 0
        ? []
        : [
            {
              name: 'substitute',
              setup(build) {
                build.onResolve({ filter: /\.ts$/ }, (args) => {
                  const target = replaced.get(resolve(args.resolveDir, args.path))
                  return target ? { path: target } : undefined
                })
              },
            },
          ],
  })
}
