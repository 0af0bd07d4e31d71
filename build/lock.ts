/**
 * @module One build at a time per checkout: test suites on several runtimes (or several people)
 * may run `npm run build` at once, and two builds writing dist/ together leave a mix. The lock is
 * a folder (mkdir is atomic) holding the owner's PID; a lock whose owner is gone is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import process from 'node:process'
import { DIST } from './stamp.ts'

const LOCK = join(DIST, '.build', 'lock')
const WAIT_MS = 10 * 60_000

/** Waits for the lock (up to 10 minutes) and returns its release. */
export async function acquireBuildLock(): Promise<() => void> {
  mkdirSync(join(DIST, '.build'), { recursive: true })
  const deadline = Date.now() + WAIT_MS
  for (let reported = false; ; ) {
    try {
      mkdirSync(LOCK)
      writeFileSync(join(LOCK, 'pid'), String(process.pid))
      return () => rmSync(LOCK, { recursive: true, force: true })
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error
    }
    const owner = lockOwner()
    if (owner !== undefined && !isAlive(owner)) {
      rmSync(LOCK, { recursive: true, force: true }) // left by a build that was killed
      continue
    }
    if (Date.now() > deadline) throw new Error(`another build (PID ${owner}) has held ${LOCK} for 10 minutes`)
    if (!reported) console.log(`waiting for the build running as PID ${owner ?? '?'}`)
    reported = true
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

function lockOwner(): number | undefined {
  try {
    return Number(readFileSync(join(LOCK, 'pid'), 'utf8')) || undefined
  } catch {
    return undefined // being created or removed right now
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM'
  }
}
