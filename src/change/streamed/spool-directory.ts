/**
 * @module Where spool files live: one private directory per pipeline run, named after the host and
 * process, so that a later start can tell the leftovers of a killed process from live directories.
 */
import { PgToBrokersError } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import { childPath, createPrivateDirectory, ownDirectoriesIn, processExists, processIdentity, removePath } from '../../runtime/io.ts'

const PREFIX = 'pg-to-brokers-spool.'
/** Directories this process created and has not removed yet: never stale, whatever their PID says. */
const live = new Set<string>()

/**
 * A directory `<parent>/pg-to-brokers-spool.<host>.<pid>.<random>`, readable by this user only,
 * removed with everything in it by `remove` (a clean stop or a failure). A process killed with
 * SIGKILL cannot remove its own: the next `open` under the same parent on the same host removes
 * every such directory whose process is gone (or whose PID is this process's, yet not one of its
 * own: a restarted container often runs as the same PID).
 */
export class SpoolDirectory {
  readonly path: string
  #files = 0

  private constructor(path: string) {
    this.path = path
  }

  /** Removes stale directories, then creates this run's. @throws PgToBrokersError when `parent` is unusable. */
  static async open(parent: string, logger: Logger): Promise<SpoolDirectory> {
    const { pid, host } = processIdentity()
    const hostPrefix = `${PREFIX}${safeName(host)}.`
    try {
      await removeStale(parent, hostPrefix, pid, logger)
      const path = await createPrivateDirectory(parent, `${hostPrefix}${pid}.`)
      live.add(path)
      return new SpoolDirectory(path)
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      throw new PgToBrokersError(
        'spool_directory',
        `cannot use "${parent}" for spool files of streamed transactions: ${reason}; set postgres.spoolDirectory to a writable directory`,
        { cause: error },
      )
    }
  }

  /** A new file name in this directory for transaction `xid` (unique even if an xid comes round again). */
  fileFor(xid: number): string {
    return childPath(this.path, `${xid}.${++this.#files}.spool`)
  }

  /** Deletes the directory and every spool file in it. Never throws (a leftover is removed at the next start). */
  async remove(): Promise<void> {
    await removePath(this.path).catch(() => {})
    live.delete(this.path)
  }
}

async function removeStale(parent: string, hostPrefix: string, ownPid: number, logger: Logger): Promise<void> {
  for (const name of await ownDirectoriesIn(parent, hostPrefix)) {
    const match = /^(\d+)\.[^.]+$/.exec(name.slice(hostPrefix.length))
    if (!match) continue
    const pid = Number(match[1])
    const path = childPath(parent, name)
    const stale = pid === ownPid ? !live.has(path) : !processExists(pid)
    if (!stale) continue
    await removePath(path)
    logger.info('removed the spool directory of a process that is gone', { path })
  }
}

/** Host names may hold dots and other characters: keep names parseable from the left. */
function safeName(host: string): string {
  return host.replace(/[^A-Za-z0-9-]/g, '_') || 'host'
}
