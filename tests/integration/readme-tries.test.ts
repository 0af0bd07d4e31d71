// The README's local tries, run as a newcomer pastes them: each shell block marked `<!-- try: NAME -->`
// runs with bash in the repository, with none of the test run's PG_TO_BROKERS_* or AWS_* settings,
// against the real servers its own lines start. The state the try would find on a fresh machine
// (no table, slot, publication, topic or stream of the try) is made first; the rows the try inserted
// must then be what it printed and what the file, topic or stream holds. The tries are shell, not
// runtime code: they run on Node only.
import { spawn } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import process from 'node:process'
import { Admin } from '@platformatic/kafka'
import { skip, test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { currentRuntime, REPO_ROOT } from './process.ts'
import { KAFKA_BROKERS, kafkaAvailable, readTopics } from './kafka-support.ts'
import { readAll, testClient } from './kinesis-support.ts'
import { KinesisApiError, type KinesisClient } from '../../src/writers/kinesis/client.ts'
import { sqlClient, waitFor } from './support.ts'

/** What the tries name, as the README has them. */
const TABLE = 'try_orders'
const KAFKA = { slot: 'try_kafka', topic: 'cdc.public.try_orders', log: 'try-kafka.log' }
const KINESIS = { slot: 'try_kinesis', stream: 'try-orders', endpoint: 'http://127.0.0.1:4568', log: 'try-kinesis.log' }
const FILE = { slot: 'try_file', path: 'try-changes.jsonl', log: 'try-file.log' }
/** The rows each try inserts, in commit order, on a table created by the try itself. */
const INSERTED = [
  [1, 'tea'],
  [2, 'cake'],
]
const SNIPPET_TIMEOUT_MS = 240_000
/** Serializes runs of these tests: the tries use fixed names. */
const LOCK_KEY = 'pg_to_brokers readme tries'

test(
  'readme tries: the file try runs as pasted and its inserted rows are in the file',
  async () => {
    requirePlainRun()
    await withFreshState(FILE.slot, async () => {
      const run = await runTry('file', FILE.log, [FILE.path])
      assertEquals(printedRows(run.stdout), INSERTED, `what cat ${FILE.path} printed:\n${run.stdout}`)
    })
  },
  { timeoutMs: 300_000 },
)

test(
  'readme tries: the Kafka try runs as pasted and its inserted rows arrive in the topic',
  async () => {
    requirePlainRun()
    const missing = await kafkaAvailable()
    if (missing !== undefined) skip(missing)
    await withFreshState(KAFKA.slot, async () => {
      await deleteTopic(KAFKA.topic)
      try {
        const run = await runTry('kafka', KAFKA.log)
        assertEquals(printedRows(run.stdout), INSERTED, `what scripts/kafka.sh consume printed:\n${run.stdout}`)
        const messages = await readTopics([KAFKA.topic], (m) => m.length >= INSERTED.length, { timeoutMs: 30_000 })
        assertEquals(printedRows(messages.map((m) => m.value).join('\n')), INSERTED, 'the records in the topic')
      } finally {
        await deleteTopic(KAFKA.topic)
      }
    })
  },
  { timeoutMs: 300_000 },
)

test(
  'readme tries: the Kinesis try runs as pasted and its inserted rows arrive in the stream',
  async () => {
    requirePlainRun()
    const wasRunning = await kinesisScript('status').then(
      () => true,
      () => false,
    )
    if (!wasRunning) await kinesisScript('start').catch((error: Error) => skip(`scripts/kinesis.sh start cannot start kinesis-local here: ${error.message}`))
    const client = await testClient(KINESIS.endpoint)
    try {
      await withFreshState(KINESIS.slot, async () => {
        await deleteStream(client, KINESIS.stream)
        try {
          const run = await runTry('kinesis', KINESIS.log)
          assertEquals(printedRows(run.stdout), INSERTED, `what scripts/kinesis.sh read printed:\n${run.stdout}`)
          const records = await readAll(client, KINESIS.stream)
          assertEquals(printedRows(records.map((r) => r.data).join('\n')), INSERTED, 'the records in the stream')
        } finally {
          await deleteStream(client, KINESIS.stream)
        }
      })
    } finally {
      // Stopped only when this test started it, as scripts/test.sh does with PostgreSQL and Kafka.
      if (!wasRunning) await kinesisScript('stop')
    }
  },
  { timeoutMs: 300_000 },
)

/** The tries use scripts/pg.sh's cluster; a run against another PostgreSQL version would not test them. */
function requirePlainRun(): void {
  if (currentRuntime() !== 'node') skip('the README tries are shell snippets, not runtime code: they run on Node only')
  const major = process.env.PG_TO_BROKERS_TEST_PG_MAJOR
  if (major) skip(`the tries start scripts/pg.sh's cluster, not the PostgreSQL ${major} this run tests`)
}

/**
 * The shell block after `<!-- try: NAME -->` in README.md, run with bash in the repository and a
 * newcomer's environment; resolves with its output once it exited 0 and its CLI stopped cleanly.
 * The files the try writes in the checkout are removed afterwards.
 */
async function runTry(name: string, logFile: string, otherFiles: readonly string[] = []): Promise<{ stdout: string; stderr: string }> {
  const snippet = trySnippet(readFileSync(`${REPO_ROOT}README.md`, 'utf8'), name)
  try {
    const run = await runBash(snippet)
    const output = `${run.stdout}\n${run.stderr}`
    assertEquals(run.code, 0, `the try (under bash -e) exited ${run.code}; its output:\n${output}`)
    // The try ends with `cat` of the CLI's log: a clean stop (SIGTERM) confirms, then drops the try's slot.
    for (const line of ['info streaming', 'info stopped confirmed=', 'info dropped replication slot']) {
      assert(run.stdout.includes(line), `the CLI's log (cat ${logFile}) has no "${line}":\n${output}`)
    }
    return run
  } finally {
    for (const file of [logFile, ...otherFiles]) rmSync(`${REPO_ROOT}${file}`, { force: true })
  }
}

/** The fenced block that follows the marker, without its fences. */
function trySnippet(readme: string, name: string): string {
  const marker = `<!-- try: ${name} -->`
  const at = readme.indexOf(marker)
  if (at < 0) throw new Error(`README.md has no "${marker}": the try's shell block must follow that marker`)
  const block = /^```sh\n([\s\S]*?)^```$/m.exec(readme.slice(at + marker.length))
  if (!block) throw new Error(`no \`\`\`sh block after "${marker}" in README.md`)
  return block[1]!
}

/**
 * Runs `script` with `bash -e` (stopping at the first failing line, so a failure shows where it
 * happened) in its own process group: what it left running, such as a CLI after a failed line, is
 * stopped with SIGTERM once bash exits, and everything is killed if it hangs.
 */
function runBash(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('bash', ['-e', '-c', script], { cwd: REPO_ROOT, env: newcomerEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signalGroup(child.pid!, 'SIGKILL')
      reject(new Error(`the try did not finish within ${SNIPPET_TIMEOUT_MS} ms (killed it); output:\n${stdout}\n${stderr}`))
    }, SNIPPET_TIMEOUT_MS)
    child.once('error', reject)
    child.once('exit', () => signalGroup(child.pid!, 'SIGTERM'))
    child.once('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })))
  })
}

/** This process's environment without the project's, AWS's and libpq's variables: a newcomer's shell. */
function newcomerEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(PG_TO_BROKERS_|AWS_|PG[A-Z]+$)/.test(key)) env[key] = value
  }
  return env
}

function signalGroup(pid: number, signal: 'SIGTERM' | 'SIGKILL'): void {
  try {
    process.kill(-pid, signal)
  } catch (error) {
    if ((error as { code?: string }).code !== 'ESRCH') throw error
  }
}

/** [id, item] of each JSON record line in `text`, in order; other lines are left out. */
function printedRows(text: string): unknown[][] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { values: unknown[] }).values)
}

/**
 * Runs `body` holding a lock against concurrent runs of these tests, on the state a fresh machine
 * has: no try table, and no slot, slot record or publication named `slot`. Leaves that state after.
 */
async function withFreshState(slot: string, body: () => Promise<void>): Promise<void> {
  const sql = sqlClient()
  const lock = await sql.reserve()
  try {
    await lock`select pg_advisory_lock(hashtext(${LOCK_KEY}))`
    await forgetTry(sql, slot)
    try {
      await body()
    } finally {
      await forgetTry(sql, slot)
    }
  } finally {
    await lock`select pg_advisory_unlock(hashtext(${LOCK_KEY}))`.catch(() => {})
    lock.release()
    await sql.end()
  }
}

async function forgetTry(sql: ReturnType<typeof sqlClient>, slot: string): Promise<void> {
  await waitFor(async () => (await sql`select 1 from pg_replication_slots where slot_name = ${slot} and active`).length === 0, 30_000, `slot ${slot} released`)
  await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${slot}`
  await sql.unsafe(`drop publication if exists "${slot}"; drop table if exists "${TABLE}"`)
  if ((await sql`select to_regclass('public.pg_to_brokers_slots') as t`)[0]!.t !== null) {
    await sql`delete from public.pg_to_brokers_slots where slot_name = ${slot}`
  }
}

/** Deletes the topic if it exists and waits until the broker no longer lists it. */
async function deleteTopic(topic: string): Promise<void> {
  const admin = new Admin({ clientId: 'pgtb-test-admin', bootstrapBrokers: [...KAFKA_BROKERS] })
  try {
    if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic] })
    await waitFor(async () => !(await admin.listTopics()).includes(topic), 30_000, `topic ${topic} deleted`)
  } finally {
    await admin.close()
  }
}

/** Deletes the stream if it exists and waits until it is gone (kinesis-local takes 2 s). */
async function deleteStream(client: KinesisClient, stream: string): Promise<void> {
  const exists = async () => {
    try {
      await client.describeStreamSummary({ StreamName: stream })
      return true
    } catch (error) {
      if (error instanceof KinesisApiError && error.type === 'ResourceNotFoundException') return false
      throw error
    }
  }
  if (!(await exists())) return
  await client.call('DeleteStream', { StreamName: stream, EnforceConsumerDeletion: true }).catch(() => {})
  await waitFor(async () => !(await exists()), 30_000, `stream ${stream} deleted`)
}

/** Runs scripts/kinesis.sh with `command`; rejects with its output when it fails. */
function kinesisScript(command: 'status' | 'start' | 'stop'): Promise<void> {
  return new Promise((resolve, reject) => {
    // The try's environment: the server on the port the try names.
    const child = spawn('bash', [`${REPO_ROOT}scripts/kinesis.sh`, command], { cwd: REPO_ROOT, env: newcomerEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.once('error', reject)
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}: ${output.trim()}`))))
  })
}
