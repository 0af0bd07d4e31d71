/**
 * @module Shared setup for the Kafka tests: the project's broker (scripts/kafka.sh, started when
 * needed), topics, a consumer that reads topics back, and stopping/starting the broker by its PID.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createConnection } from 'node:net'
import { Admin, Consumer, stringDeserializers } from '@platformatic/kafka'
import { REPO_ROOT } from './process.ts'
import { skip } from '../harness.ts'

export const KAFKA_BROKERS = (globalThis.process?.env.PG_TO_BROKERS_TEST_KAFKA_BROKERS ?? '127.0.0.1:19092').split(',')
/** The broker's SASL_PLAINTEXT listener (PLAIN and SCRAM-SHA-256; user pgtb, password pgtb-secret). */
export const KAFKA_SASL_BROKERS = (globalThis.process?.env.PG_TO_BROKERS_TEST_KAFKA_SASL_BROKERS ?? '127.0.0.1:19094').split(',')
const PID_FILE = `${REPO_ROOT}.cache/kafka/kafka.pid`

/** A message read back, with its headers as a plain object. */
export interface ReadMessage {
  readonly topic: string
  readonly partition: number
  readonly offset: bigint
  readonly key: string
  readonly value: string
  /** True for a message without a value (a tombstone); its `value` is then "". */
  readonly nullValue: boolean
  readonly headers: Record<string, string>
}

let ready: Promise<string | undefined> | undefined

/**
 * Makes sure the broker answers, starting it with scripts/kafka.sh if it does not. Resolves with a
 * reason to skip when Java or Maven are missing (the only acceptable reason); rejects otherwise.
 */
export function kafkaAvailable(): Promise<string | undefined> {
  ready ??= (async () => {
    if (await portOpen(KAFKA_BROKERS[0]!)) return undefined
    const missing = await missingTools()
    if (missing) return missing
    await kafkaScript('start')
    return undefined
  })()
  return ready
}

/** Runs `test` unless Kafka cannot be started on this machine, in which case the test is skipped, saying why. */
export async function withKafka(test: () => Promise<void>): Promise<void> {
  const missing = await kafkaAvailable()
  if (missing !== undefined) skip(missing)
  await test()
}

/** Runs scripts/kafka.sh with `command` (start, stop, …); rejects with its output if it fails. */
export function kafkaScript(command: 'start' | 'stop'): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('bash', [`${REPO_ROOT}scripts/kafka.sh`, command], { cwd: REPO_ROOT, timeout: 180_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`scripts/kafka.sh ${command} failed: ${error.message}\n${stdout}${stderr}`))
      else resolve()
    })
  })
}

/** The PID of the broker scripts/kafka.sh started. */
export function brokerPid(): number {
  return Number(readFileSync(PID_FILE, 'utf8').trim())
}

export async function createTopics(topics: readonly string[], partitions = 3): Promise<void> {
  const admin = new Admin({ clientId: 'pgtb-test-admin', bootstrapBrokers: [...KAFKA_BROKERS] })
  try {
    await admin.createTopics({ topics: [...topics], partitions, replicas: 1 })
  } catch (error) {
    throw new Error(`creating topics ${topics.join(', ')}: ${describe(error)}`, { cause: error })
  } finally {
    await admin.close()
  }
}

export async function deleteTopics(topics: readonly string[]): Promise<void> {
  const admin = new Admin({ clientId: 'pgtb-test-admin', bootstrapBrokers: [...KAFKA_BROKERS] })
  try {
    await admin.deleteTopics({ topics: [...topics] })
  } catch {
    // Cleanup only: a topic that is already gone is fine.
  } finally {
    await admin.close()
  }
}

/**
 * Reads `topics` from the beginning until `until` says enough (or `timeoutMs` passes, then
 * resolves with what it has). `readCommitted` hides aborted and open transactions.
 */
export async function readTopics(
  topics: readonly string[],
  until: (messages: readonly ReadMessage[]) => boolean,
  options: { timeoutMs?: number; readCommitted?: boolean } = {},
): Promise<ReadMessage[]> {
  const consumer = new Consumer({
    clientId: 'pgtb-test-consumer',
    groupId: `pgtb-test-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    bootstrapBrokers: [...KAFKA_BROKERS],
    deserializers: stringDeserializers,
    isolationLevel: options.readCommitted ? 1 : 0,
    maxWaitTime: 200,
  })
  const messages: ReadMessage[] = []
  const stream = await consumer.consume({ topics: [...topics], mode: 'earliest', autocommit: false })
  const deadline = setTimeout(() => void stream.close(), options.timeoutMs ?? 20_000)
  try {
    if (until(messages)) return messages
    for await (const m of stream) {
      const headers: Record<string, string> = {}
      for (const [name, value] of m.headers) headers[String(name)] = String(value)
      const nullValue = m.value === undefined || m.value === null
      messages.push({
        topic: m.topic,
        partition: m.partition,
        offset: m.offset,
        key: String(m.key),
        value: nullValue ? '' : String(m.value),
        nullValue,
        headers,
      })
      if (until(messages)) break
    }
    return messages
  } finally {
    clearTimeout(deadline)
    await stream.close().catch(() => {})
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()))
  }
}

/** "X/Y:n" (a record id) → a number that orders records by commit LSN, then ordinal. */
export function position(id: string): bigint {
  const [lsn, ordinal] = id.split(':') as [string, string]
  const [high, low] = lsn.split('/') as [string, string]
  return ((BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`)) * 1_000_000n + BigInt(ordinal)
}

/** An error and the errors inside it, one line. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const nested = error as Error & { errors?: unknown[]; apiId?: string }
  const inner = (nested.errors ?? []).map(describe)
  return `${nested.apiId ? nested.apiId + ': ' : ''}${error.message}${inner.length ? ` [${inner.join('; ')}]` : ''}`
}

function portOpen(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':')
  return new Promise((resolve) => {
    const socket = createConnection({ host: host!, port: Number(port) })
    socket.once('connect', () => (socket.destroy(), resolve(true)))
    socket.once('error', () => resolve(false))
  })
}

/** Why Kafka cannot be started here (no java or no mvn), or undefined when both are present. */
async function missingTools(): Promise<string | undefined> {
  for (const [tool, args] of [
    ['java', ['-version']],
    ['mvn', ['-v']],
  ] as const) {
    const ok = await new Promise<boolean>((resolve) => execFile(tool, [...args], (error) => resolve(!error)))
    if (!ok) return `Kafka tests need "${tool}" on PATH to run scripts/kafka.sh (a local broker from Maven Central jars); it is missing`
  }
  return undefined
}
