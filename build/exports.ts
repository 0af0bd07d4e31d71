/**
 * @module Checks that the npm export map (package.json) and the JSR one (deno.json) name the same
 * entry points, and that package.json points each at its built bundle and declarations.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { brokerWriters, libraryEntries, type LibraryEntry } from './entries.ts'
import { ROOT } from './stamp.ts'

/** The package.json export an entry needs. */
export function npmExport(entry: LibraryEntry): { types: string; import: string } {
  return { types: `./dist/${entry.source.replace(/\.ts$/, '.d.ts')}`, import: `./dist/${entry.name}.mjs` }
}

/** Returns the problems (empty when the maps agree) and warnings (writers without a library entry). */
export function checkExportMaps(): { problems: string[]; warnings: string[] } {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports?: Record<string, unknown> }
  const npm = pkg.exports ?? {}
  const entries = libraryEntries()
  const problems: string[] = []
  for (const entry of entries) {
    const want = npmExport(entry)
    const have = npm[entry.subpath]
    if (JSON.stringify(have) !== JSON.stringify(want)) {
      problems.push(
        `package.json exports["${entry.subpath}"] is ${JSON.stringify(have)}; deno.json exports it from ${entry.source}, so it must be ${JSON.stringify(want)}`,
      )
    }
  }
  for (const subpath of Object.keys(npm)) {
    if (!entries.some((e) => e.subpath === subpath))
      problems.push(`package.json exports "${subpath}" but deno.json does not: add it to deno.json "exports" or remove it`)
  }
  const warnings = brokerWriters()
    .filter((writer) => !entries.some((e) => e.source === `src/writers/${writer}/mod.ts`))
    .map(
      (writer) =>
        `src/writers/${writer}/mod.ts has no library entry: add "./${writer}": "./src/writers/${writer}/mod.ts" to deno.json "exports" (and the ` +
        `matching package.json export) to publish it`,
    )
  return { problems, warnings }
}
