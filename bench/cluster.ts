/**
 * @module The PostgreSQL the benchmark measures: by default a throwaway cluster with PostgreSQL's
 * default settings (fsync on, ssl on as Debian ships it), started for the run and stopped by PID at
 * its end; or the project's test cluster (fsync off), with `--cluster=project`.
 */
import { execFileSync } from 'node:child_process'
import process from 'node:process'
import { startTlsCluster } from '../tests/integration/tls-server.ts'

export type ClusterChoice = 'defaults' | 'project'

export interface BenchCluster {
  /** Superuser (or test role) URL with password, any database. */
  readonly url: string
  /** The unix socket directory. */
  readonly socketDir: string
  /** Directory holding pg_recvlogical (and the server's binaries). */
  readonly pgBin: string
  /** One line for the report: which cluster and its settings. */
  readonly description: string
  /** Stops the cluster if the benchmark started it; the project's cluster keeps running. */
  stop(): void
}

/**
 * Only what logical replication needs differs from the defaults: wal_level (set by the throwaway
 * cluster), and room for one slot and walsender per consumer plus the template. The certificate
 * is signed by a throwaway CA; `sslmode=require` does not check it, as with Debian's snakeoil one.
 */
const DEFAULTS_OPTIONS = ['fsync=on', 'max_wal_senders=20', 'max_replication_slots=20']

export async function startCluster(choice: ClusterChoice, root: string): Promise<BenchCluster> {
  const project = projectEnvironment(root)
  if (choice === 'project') {
    return { ...project, description: "the project's test cluster (scripts/pg.sh: fsync off, synchronous_commit off, no TLS)", stop: () => {} }
  }
  // The same server version as the project's cluster.
  process.env.PG_TO_BROKERS_PG_BIN = project.pgBin
  const cluster = await startTlsCluster('pg-bench', DEFAULTS_OPTIONS)
  try {
    const socketDir = await showSetting(cluster.url, 'unix_socket_directories')
    return {
      url: cluster.url,
      socketDir,
      pgBin: project.pgBin,
      description:
        `a throwaway cluster with PostgreSQL's defaults (fsync on, synchronous_commit on, ` +
        `ssl on) but ${['wal_level=logical', ...DEFAULTS_OPTIONS.slice(1)].join(', ')}; 127.0.0.1, trust authentication`,
      stop: () => cluster.stop(),
    }
  } catch (error) {
    cluster.stop()
    throw error
  }
}

async function showSetting(url: string, name: string): Promise<string> {
  const { default: postgres } = await import('postgres')
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const [row] = await sql<{ value: string }[]>`select current_setting(${name}) as value`
    return row!.value.split(',')[0]!.trim()
  } finally {
    await sql.end()
  }
}

/** Starts the project's PostgreSQL if it is not running (scripts/pg.sh), and reads its settings. */
function projectEnvironment(root: string): Omit<BenchCluster, 'description' | 'stop'> {
  execFileSync('bash', [`${root}/scripts/pg.sh`, 'start'], { stdio: ['ignore', 'ignore', 'inherit'] })
  const text = execFileSync('bash', [`${root}/scripts/pg.sh`, 'env'], { encoding: 'utf8' })
  const read = (name: string) => {
    const match = new RegExp(`^export ${name}=(.*)$`, 'm').exec(text)
    if (!match) throw new Error(`scripts/pg.sh env did not print ${name}`)
    return match[1]!.replace(/^'(.*)'$/, '$1')
  }
  return { url: read('PG_TO_BROKERS_TEST_URL'), socketDir: read('PG_TO_BROKERS_TEST_SOCKET_DIR'), pgBin: read('PG_TO_BROKERS_PG_BIN') }
}
