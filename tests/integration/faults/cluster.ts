/**
 * @module A throwaway PostgreSQL cluster with wal_level=logical for the fault harness, which
 * restarts it. Its own data directory under .cache and a free port on 127.0.0.1; started, restarted
 * and stopped (by the postmaster's PID) only by the harness. Never the shared test server.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import process from 'node:process'
import { REPO_ROOT } from '../process.ts'

export interface FaultCluster {
  readonly port: number
  /** Superuser URL straight to the cluster (trust authentication, 127.0.0.1 only). */
  readonly url: string
  /** Fast restart (pg_ctl restart -m fast): every session ends with 57P01, then the server starts again. */
  restart(): void
  /** Fast shutdown by PID, then removes the data directory. */
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
  const versions = readdirSync('/usr/lib/postgresql')
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
  if (!versions[0]) throw new Error('no PostgreSQL under /usr/lib/postgresql: run bash scripts/pg.sh start')
  return `/usr/lib/postgresql/${versions[0]}/bin`
}

/** A port free right now on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** initdb + start with wal_level=logical; `extraOptions` are more `-c name=value` settings. */
export async function startFaultCluster(name = 'pg-faults', extraOptions: readonly string[] = []): Promise<FaultCluster> {
  const bin = process.env.PG_TO_BROKERS_PG_BIN ?? newestInstalledBin()
  mkdirSync(`${REPO_ROOT}.cache`, { recursive: true })
  const dir = mkdtempSync(`${REPO_ROOT}.cache/${name}-`)
  mkdirSync(`${dir}/sock`, { recursive: true })
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', dir])
  asOwner(`${bin}/initdb`, ['-D', `${dir}/data`, '-U', 'postgres', '--auth=trust', '--no-sync'])
  const port = await freePort()
  const settings = [
    'wal_level=logical',
    `port=${port}`,
    'listen_addresses=127.0.0.1',
    `unix_socket_directories=${dir}/sock`,
    'fsync=off',
    'max_wal_senders=10',
    'max_replication_slots=10',
    ...extraOptions,
  ]
  const options = settings.map((s) => `-c ${s}`).join(' ')
  const ctl = (action: string, ...more: string[]) => asOwner(`${bin}/pg_ctl`, ['-D', `${dir}/data`, '-l', `${dir}/log`, '-o', options, '-w', ...more, action])
  ctl('start')
  const pid = () => Number(readFileSync(`${dir}/data/postmaster.pid`, 'utf8').split('\n')[0])
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart: () => ctl('restart', '-m', 'fast'),
    stop() {
      let postmaster: number
      try {
        postmaster = pid()
        process.kill(postmaster, 'SIGINT') // fast shutdown of the postmaster this harness started
      } catch {
        rmSync(dir, { recursive: true, force: true })
        return
      }
      const deadline = Date.now() + 10_000
      while (Date.now() < deadline) {
        try {
          process.kill(postmaster, 0)
        } catch {
          break
        }
        spawnSync('sleep', ['0.05'])
      }
      if (process.env.FAULT_KEEP_LOG) execFileSync('cp', [`${dir}/log`, process.env.FAULT_KEEP_LOG])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
