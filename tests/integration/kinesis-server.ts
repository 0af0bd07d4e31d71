/**
 * @module The Kinesis API server the Kinesis tests run against: PG_TO_BROKERS_KINESIS_TEST_ENDPOINT
 * if set; else the one `scripts/kinesis.sh start` runs (its PID file is alive); else a kinesis-local
 * started here on free loopback ports, killed by its PID when this process exits (it also exits by
 * itself when its stdin, a pipe from this process, closes — so even a SIGKILLed test leaves none behind).
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import process from 'node:process'
import { join } from 'node:path'
import { REPO_ROOT } from './process.ts'
import { freePort } from './faults/cluster.ts'

const PACKAGE = join(REPO_ROOT, '.cache/kinesis/node_modules/kinesis-local')
const SCRIPT_PID_FILE = join(REPO_ROOT, '.cache/kinesis/server.pid')
const SCRIPT_PORT = Number(process.env.PG_TO_BROKERS_KINESIS_PORT ?? 4568)
const STARTUP_TIMEOUT_MS = 20_000

let endpoint: Promise<string> | undefined

/** The endpoint URL of a running server (starting one the first time it is needed). */
export function kinesisEndpoint(): Promise<string> {
  endpoint ??= findOrStart()
  return endpoint
}

async function findOrStart(): Promise<string> {
  const given = process.env.PG_TO_BROKERS_KINESIS_TEST_ENDPOINT
  if (given) return given.replace(/\/+$/, '')
  if (scriptServerAlive() && (await portOpen(SCRIPT_PORT))) return `http://127.0.0.1:${SCRIPT_PORT}`
  return await startServer()
}

function scriptServerAlive(): boolean {
  try {
    const pid = Number(readFileSync(SCRIPT_PID_FILE, 'utf8').trim())
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function startServer(): Promise<string> {
  if (!existsSync(join(PACKAGE, 'main.js'))) {
    const install = spawnSync('bash', [join(REPO_ROOT, 'scripts/kinesis.sh'), 'install'], { stdio: ['ignore', 'inherit', 'inherit'] })
    if (install.status !== 0) throw new Error('scripts/kinesis.sh install failed: kinesis-local is needed for the Kinesis tests')
  }
  const [port, tlsPort] = [await freePort(), await freePort()]
  const child = spawn('node', ['-r', join(REPO_ROOT, 'scripts/kinesis-local-loopback.cjs'), join(PACKAGE, 'main.js')], {
    cwd: join(REPO_ROOT, '.cache/kinesis'),
    stdio: ['pipe', 'ignore', 'pipe'],
    env: {
      ...process.env,
      PGTB_EXIT_WITH_STDIN: '1',
      KINESIS_MOCK_CERT_PATH: join(PACKAGE, 'server.json'),
      KINESIS_MOCK_PLAIN_PORT: String(port),
      KINESIS_MOCK_TLS_PORT: String(tlsPort),
      CREATE_STREAM_DURATION: '100ms',
      DELETE_STREAM_DURATION: '2s',
      SPLIT_SHARD_DURATION: '100ms',
      UPDATE_SHARD_COUNT_DURATION: '100ms',
      SHARD_LIMIT: '1000',
      LOG_LEVEL: 'WARN',
    },
  })
  const pid = child.pid
  if (pid === undefined) throw new Error('could not spawn node for kinesis-local')
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)))
  child.unref()
  ;(child.stdin as unknown as { unref?: () => void }).unref?.()
  ;(child.stderr as unknown as { unref?: () => void }).unref?.()
  process.on('exit', () => {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  })
  const deadline = Date.now() + STARTUP_TIMEOUT_MS
  while (!(await portOpen(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`kinesis-local (PID ${pid}) did not start on port ${port}: ${stderr.trim()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return `http://127.0.0.1:${port}`
}

export { freePort }

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    const done = (open: boolean) => (socket.destroy(), resolve(open))
    socket.setTimeout(500, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}
