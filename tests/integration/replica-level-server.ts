/**
 * @module A second, throwaway PostgreSQL cluster with wal_level=replica, for the one test that
 * needs a server where logical decoding is off. Started and stopped (by its PID) by that test.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import process from 'node:process'
import { REPO_ROOT } from './process.ts'

const PORT = 54331

export interface ThrowawayServer {
  readonly url: string
  stop(): void
}

/** Runs a command as the cluster owner (`postgres` when we are root, as postgres refuses root). */
function asOwner(command: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0
  const result = asRoot
    ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { cwd: '/', encoding: 'utf8' })
    : spawnSync(command, args, { cwd: '/', encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.stdout}`)
}

function newestInstalledBin(): string {
  const versions = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
  if (!versions[0]) throw new Error('no PostgreSQL under /usr/lib/postgresql: run bash scripts/pg.sh start')
  return `/usr/lib/postgresql/${versions[0]}/bin`
}

export function startReplicaLevelServer(): ThrowawayServer {
  const bin = process.env.PG_TO_BROKERS_PG_BIN ?? newestInstalledBin()
  const dir = `${REPO_ROOT}.cache/pg-replica-level`
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(`${dir}/sock`, { recursive: true })
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir])
  asOwner(`${bin}/initdb`, ['-D', `${dir}/data`, '-U', 'postgres', '--auth=trust', '--no-sync'])
  const options = `-c wal_level=replica -c port=${PORT} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir}/sock -c fsync=off`
  asOwner(`${bin}/pg_ctl`, ['-D', `${dir}/data`, '-l', `${dir}/log`, '-o', options, '-w', 'start'])
  const pid = Number(readFileSync(`${dir}/data/postmaster.pid`, 'utf8').split('\n')[0])
  return {
    url: `postgres://postgres@127.0.0.1:${PORT}/postgres`,
    stop() {
      try {
        process.kill(pid, 'SIGINT') // fast shutdown of the postmaster this module started
      } catch { return }
      // Wait (bounded) until it is gone, so a next run can reuse the port.
      const deadline = Date.now() + 10_000
      while (Date.now() < deadline) {
        try {
          process.kill(pid, 0)
        } catch { return }
        spawnSync('sleep', ['0.05'])
      }
    },
  }
}
