/**
 * @module Type declarations for npm consumers: `tsc` emits dist/mod.d.ts and dist/src/**\/*.d.ts
 * from the sources. JSR and Deno read the .ts sources directly and need none of this.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DIST, ROOT } from './stamp.ts'

/** Emits the declarations; returns the .d.ts files written (relative to dist/). */
export async function emitTypes(): Promise<string[]> {
  await removeOldDeclarations()
  const tsc = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'build', 'tsconfig.types.json')], { cwd: ROOT, encoding: 'utf8' })
  if (tsc.status !== 0) throw new Error(`tsc (declarations) failed:\n${tsc.stdout}${tsc.stderr}${tsc.error?.message ?? ''}`)
  const files = declarationFiles(DIST)
  await Promise.all(files.map(rewriteSpecifiers))
  return files.map((file) => file.slice(DIST.length + 1))
}

/**
 * The sources import `./x.ts` (Deno and JSR need the extension). In a .d.ts, `./x.js` is what every
 * TypeScript version resolves to `./x.d.ts` without `allowImportingTsExtensions`, so rewrite.
 */
async function rewriteSpecifiers(file: string): Promise<void> {
  const text = await readFile(file, 'utf8')
  const rewritten = text.replace(/((?:from|import)\s*\(?\s*)(['"])(\.\.?\/[^'"]+)\.ts\2/g, '$1$2$3.js$2')
  if (rewritten !== text) await writeFile(file, rewritten)
}

async function removeOldDeclarations(): Promise<void> {
  await rm(join(DIST, 'src'), { recursive: true, force: true })
  for (const file of declarationFiles(DIST, false)) await rm(file, { force: true })
}

function declarationFiles(folder: string, recursive = true): string[] {
  let entries
  try {
    entries = readdirSync(folder, { withFileTypes: true })
  } catch {
    return []
  }
  return entries.flatMap((entry) => {
    const path = join(folder, entry.name)
    if (entry.isDirectory()) return recursive && entry.name !== '.build' ? declarationFiles(path) : []
    return entry.name.endsWith('.d.ts') ? [path] : []
  })
}
