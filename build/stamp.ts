/**
 * @module Freshness of build steps: a step is skipped when the hash of its inputs matches the stamp
 * it left in `dist/.build/` and its outputs still exist. Content hashes, not mtimes: a branch
 * switch or `git checkout` can move mtimes backwards, which would leave a stale artifact in place.
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root (build/ is one level below it). */
export const ROOT: string = fileURLToPath(new URL('..', import.meta.url))
export const DIST: string = join(ROOT, 'dist')
const STAMPS = join(DIST, '.build')

/** What a step recorded about its last run. `ok: false` means it could not run here (see `note`). */
export interface Stamp {
  readonly hash: string
  readonly ok: boolean
  readonly note?: string
  readonly builtAt: string
}

/** Hashes the paths (files, or folders walked recursively) relative to the root, in a stable order. */
export function hashInputs(paths: readonly string[], extra = ''): string {
  const hash = createHash('sha256').update(extra)
  for (const file of paths.flatMap((path) => filesUnder(join(ROOT, path))).sort()) {
    hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0')
  }
  return hash.digest('hex')
}

/** The stamp of a step whose hash matches and whose outputs all exist; otherwise undefined. */
export async function freshStamp(step: string, hash: string, outputs: readonly string[]): Promise<Stamp | undefined> {
  const stamp = await readStamp(step)
  if (stamp?.hash !== hash) return undefined
  if (stamp.ok && !outputs.every((output) => existsSync(join(ROOT, output)))) return undefined
  return stamp
}

export async function readStamp(step: string): Promise<Stamp | undefined> {
  try {
    return JSON.parse(await readFile(join(STAMPS, `${step}.json`), 'utf8')) as Stamp
  } catch {
    return undefined
  }
}

export async function writeStamp(step: string, hash: string, ok: boolean, note?: string): Promise<void> {
  await mkdir(STAMPS, { recursive: true })
  const stamp: Stamp = { hash, ok, ...(note === undefined ? {} : { note }), builtAt: new Date().toISOString() }
  await writeFile(join(STAMPS, `${step}.json`), JSON.stringify(stamp, null, 2) + '\n')
}

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return []
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) => filesUnder(join(path, entry.name)))
}
