/**
 * @module The local broker's topics for scripts/kafka.sh, over the project's Kafka client: create
 * one (`topic`), print one's messages (`consume`). Run by kafka.sh, which checks the broker first.
 *
 *   tsx scripts/kafka-client.ts topic <brokers> <name> [partitions]
 *   tsx scripts/kafka-client.ts consume <brokers> <topic> [count]
 */
import process from 'node:process'
import { Admin, Consumer, stringDeserializers } from '@platformatic/kafka'
import { positive, requireArrived, runScript } from './script-support.ts'

const CLIENT_ID = 'pgtb-scripts'
/** How long `consume` waits for the messages asked for. */
const CONSUME_TIMEOUT_MS = Number(process.env.PG_TO_BROKERS_CONSUME_TIMEOUT_S ?? 30) * 1000

/** Creates `topic` with `partitions` partitions; an existing topic is left as it is. */
async function createTopic(brokers: string[], topic: string, partitions: number): Promise<'created' | 'exists'> {
  const admin = new Admin({ clientId: CLIENT_ID, bootstrapBrokers: brokers })
  try {
    if ((await admin.listTopics()).includes(topic)) return 'exists'
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 })
    return 'created'
  } catch (error) {
    // Another process may have created it between the listing and the creation.
    if (describe(error).includes('TOPIC_ALREADY_EXISTS')) return 'exists'
    throw new Error(`creating topic "${topic}" failed: ${describe(error)}`)
  } finally {
    await admin.close()
  }
}

/**
 * Prints the values of `topic`'s messages from its start, one per line, until `count` have
 * arrived. Resolves with how many arrived (fewer when `timeoutMs` passed first).
 */
async function consume(brokers: string[], topic: string, count: number, timeoutMs = CONSUME_TIMEOUT_MS): Promise<number> {
  await requireTopic(brokers, topic)
  const consumer = new Consumer({
    clientId: CLIENT_ID,
    groupId: `pgtb-scripts-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    bootstrapBrokers: brokers,
    deserializers: stringDeserializers,
    maxWaitTime: 200,
  })
  let seen = 0
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false })
  const deadline = setTimeout(() => void stream.close(), timeoutMs)
  try {
    for await (const message of stream) {
      process.stdout.write(`${message.value ?? ''}\n`)
      if (++seen >= count) break
    }
    return seen
  } finally {
    clearTimeout(deadline)
    await stream.close().catch(() => {})
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()))
  }
}

async function requireTopic(brokers: string[], topic: string): Promise<void> {
  const admin = new Admin({ clientId: CLIENT_ID, bootstrapBrokers: brokers })
  try {
    if (!(await admin.listTopics()).includes(topic)) throw new Error(`topic "${topic}" does not exist: create it with bash scripts/kafka.sh topic ${topic}`)
  } finally {
    await admin.close()
  }
}

/** An error and the errors inside it, on one line. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const nested = error as Error & { errors?: unknown[]; apiId?: string }
  const inner = (nested.errors ?? []).map(describe)
  return `${nested.apiId ? `${nested.apiId}: ` : ''}${error.message}${inner.length ? ` [${inner.join('; ')}]` : ''}`
}

async function main(args: string[]): Promise<void> {
  const [command, brokerList, name, number] = args
  if (!brokerList || !name || (command !== 'topic' && command !== 'consume')) throw new Error('usage: kafka-client.ts topic|consume <brokers> <name> [number]')
  const brokers = brokerList.split(',')
  if (command === 'topic') {
    const outcome = await createTopic(brokers, name, positive(number, 'partitions', 1))
    process.stderr.write(`kafka.sh: topic ${name} ${outcome === 'created' ? 'created' : 'already exists'}\n`)
    return
  }
  const count = positive(number, 'count', 1)
  const seen = await consume(brokers, name, count)
  requireArrived(seen, count, 'messages', name, CONSUME_TIMEOUT_MS)
}

runScript('kafka.sh', main)
