/** @module What the build makes: the library entry points (from deno.json "exports") and the broker writers. */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './stamp.ts'

/** Packages inlined into the CLI bundle; every other package stays an import (see `externalPackages`). */
export const BUNDLED_PACKAGES: readonly string[] = ['postgres', 'aws4fetch', 'valibot']

/** A library entry: `pg-to-brokers` (`.`) or a subpath such as `pg-to-brokers/kafka`. */
export interface LibraryEntry {
  /** The export key: `.` or `./kafka`. */
  readonly subpath: string
  /** Output name below dist/ without extension: `mod`, `kafka`. */
  readonly name: string
  /** The TypeScript source, relative to the root: `mod.ts`, `src/writers/kafka/mod.ts`. */
  readonly source: string
}

/**
 * The library entries, read from deno.json "exports" — the one list that JSR, npm (checked by
 * build/exports.ts) and the bundle all follow.
 */
export function libraryEntries(): LibraryEntry[] {
  const deno = JSON.parse(readFileSync(join(ROOT, 'deno.json'), 'utf8')) as { exports?: string | Record<string, string> }
  const exports = typeof deno.exports === 'string' ? { '.': deno.exports } : (deno.exports ?? {})
  return Object.entries(exports).map(([subpath, source]) => ({
    subpath,
    name: subpath === '.' ? 'mod' : subpath.replace(/^\.\//, ''),
    source: source.replace(/^\.\//, ''),
  }))
}

/** Broker writers: each `src/writers/<name>/mod.ts`, which the registry imports only when chosen. */
export function brokerWriters(): string[] {
  const folder = join(ROOT, 'src', 'writers')
  return readdirSync(folder, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(folder, entry.name, 'mod.ts')))
    .map((entry) => entry.name)
    .sort()
}

/** The npm range package.json declares for a dependency (for the Deno executable's import map). */
export function dependencyRange(name: string): string | undefined {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
  return pkg.dependencies?.[name]
}
