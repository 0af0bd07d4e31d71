/**
 * @module The broker writers as benchmark consumers (`--brokers`): the pipeline with the Kinesis
 * writer against kinesis-local (scripts/kinesis.sh) and with the Kafka writer against the local
 * Kafka (scripts/kafka.sh). Each run gets a fresh stream or topic, deleted afterwards. A broker
 * whose server cannot be started is left out, with a message. kinesis-local stores every record
 * and slows as shards fill (under 1,000 records/s here), so the Kinesis writer also runs against
 * bench/null-kinesis.ts, which checks signatures and limits and drops: the writer's own cost, with HTTP and signing.
 */
import { execFileSync } from 'node:child_process'
import process from 'node:process'
import { Admin } from '@platformatic/kafka'
import { KinesisClient } from '../src/writers/kinesis/client.ts'
import { CredentialProvider } from '../src/writers/kinesis/credentials.ts'
import { cli, type Consumer, type Paths } from './consumers.ts'
import { startNullKinesis } from './null-kinesis.ts'
import type { BrokerTarget } from './runners/broker.ts'

const KINESIS_SHARDS = 4
const KAFKA_PARTITIONS = 3
const LOCAL_CREDENTIALS = { accessKeyId: 'AKIDBENCHLOCAL', secretAccessKey: 'local-secret-not-real' }

/** Consumers for the brokers whose local server runs (or could be started); `root` is the repository. */
export function brokerConsumers(root: string): Consumer[] {
  const consumers: Consumer[] = []
  const kinesis = serverEnvironment(root, 'kinesis', 'PG_TO_BROKERS_KINESIS_TEST_ENDPOINT')
  if (kinesis) consumers.push(brokerConsumer('kinesis', kinesis, prepareKinesis))
  consumers.push(brokerConsumer('kinesis', 'null', prepareNullKinesis, 'null_kinesis', 'Kinesis (stub: checks SigV4 and limits, drops)'))
  const kafka = serverEnvironment(root, 'kafka', 'PG_TO_BROKERS_TEST_KAFKA_BROKERS')
  if (kafka) {
    consumers.push(brokerConsumer('kafka', kafka, prepareKafka), cliKafkaConsumer(kafka))
    // What the settings a user can change do to the same row: compression, and larger batches (fewer round trips).
    consumers.push(cliKafkaConsumer(kafka, 'lz4', ['--kafka-compression', 'lz4']), cliKafkaConsumer(kafka, 'batch5000', ['--batch-size', '5000']))
    // Fewer full batches queued behind the writer: less memory held, fewer records surviving into the old generation.
    consumers.push(cliKafkaConsumer(kafka, 'queue2', ['--batch-queue-depth', '2']))
  }
  return consumers
}

/**
 * The shipped CLI bundle with `--writer kafka`, as users run it: over TCP, default Kafka settings
 * (acks=all, idempotent), stopped by the harness once its slot is confirmed past the workload's
 * end, i.e. once the broker acknowledged every record. Compare with cli_node_tcp (stdout).
 */
function cliKafkaConsumer(brokers: string, variant?: string, variantArgs: readonly string[] = []): Consumer {
  const shown = variantArgs.length === 0 ? '' : ` ${variantArgs.join(' ')}`
  return {
    id: variant === undefined ? 'cli_node_tcp_kafka' : `cli_node_tcp_kafka_${variant}`,
    label: `pg-to-brokers run --writer kafka${shown} (CLI bundle) → Kafka (local broker, ${KAFKA_PARTITIONS} partitions), node, tcp`,
    transport: 'tcp',
    stopWhenConfirmed: true,
    prepare: async () => {
      const destination = `pgtb_bench_${Date.now().toString(36)}`
      const ready = await prepareKafka(brokers, destination)
      const target: BrokerTarget = { broker: 'kafka', address: ready.address, destination }
      return { extra: { ...target }, cleanup: ready.cleanup }
    },
    command: (job, paths, c) => {
      const target = job as typeof job & Partial<BrokerTarget>
      return cli(job, paths, c, 'tcp', [
        '--writer',
        'kafka',
        '--kafka-brokers',
        target.address ?? brokers,
        '--kafka-topic',
        target.destination ?? '',
        ...variantArgs,
      ])
    },
  }
}

/** Readies the destination; resolves with the address to use (it may differ from the one given) and the clean-up. */
type Prepare = (address: string, destination: string) => Promise<{ address: string; cleanup: () => Promise<void> }>

function brokerConsumer(broker: BrokerTarget['broker'], address: string, prepare: Prepare, id: string = broker, shown?: string): Consumer {
  const destinationText =
    shown ?? (broker === 'kinesis' ? `Kinesis (kinesis-local, ${KINESIS_SHARDS} shards)` : `Kafka (local broker, ${KAFKA_PARTITIONS} partitions)`)
  return {
    id: `pipeline_node_unix_${id}`,
    label: `pg_to_brokers → ${destinationText}, node, unix`,
    transport: 'unix',
    prepare: async () => {
      const destination = `pgtb_bench_${Date.now().toString(36)}`
      const ready = await prepare(address, destination)
      const target: BrokerTarget = { broker, address: ready.address, destination }
      return { extra: { ...target }, cleanup: ready.cleanup }
    },
    command: (job, paths: Paths, c) => ({
      file: paths.node,
      args: [...paths.nodeFlags, `${paths.bundles}/broker.mjs`],
      env: { PGHOST: c.socketDir, PGPORT: String(c.port), PGUSER: c.user, PGTB_BENCH_JOB: JSON.stringify({ ...job, url: `postgres:///${c.database}` }) },
    }),
  }
}

async function prepareKinesis(endpoint: string, stream: string): Promise<{ address: string; cleanup: () => Promise<void> }> {
  const client = new KinesisClient({ region: 'us-east-1', endpoint, credentials: CredentialProvider.fromStatic(LOCAL_CREDENTIALS), requestTimeoutMs: 10_000 })
  await client.call('CreateStream', { StreamName: stream, ShardCount: KINESIS_SHARDS })
  for (let i = 0; (await client.describeStreamSummary({ StreamName: stream })).StreamStatus !== 'ACTIVE'; i++) {
    if (i > 100) throw new Error(`Kinesis stream ${stream} did not become ACTIVE`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    address: endpoint,
    cleanup: async () => void (await client.call('DeleteStream', { StreamName: stream, EnforceConsumerDeletion: true }).catch(() => {})),
  }
}

/** Starts the stub in this process for one run, holding just the run's stream; a refused request fails the run. */
async function prepareNullKinesis(_address: string, stream: string): Promise<{ address: string; cleanup: () => Promise<void> }> {
  const server = await startNullKinesis({ streamName: stream })
  const cleanup = async () => {
    await server.close()
    const { rejected, requests, reasons } = server.stats
    if (rejected > 0)
      throw new Error(`null_kinesis: the stub refused ${rejected} of ${requests} requests, so the row's rows/s mean nothing: ${reasons.join('; ')}`)
  }
  return { address: server.endpoint, cleanup }
}

/** Creates `topic` with the bench's partitions; resolves with the brokers and the topic's deletion. */
export async function prepareKafka(brokers: string, topic: string): Promise<{ address: string; cleanup: () => Promise<void> }> {
  const admin = () => new Admin({ clientId: 'pgtb-bench-admin', bootstrapBrokers: brokers.split(',') })
  const creating = admin()
  try {
    await creating.createTopics({ topics: [topic], partitions: KAFKA_PARTITIONS, replicas: 1 })
  } finally {
    await creating.close()
  }
  const cleanup = async () => {
    const deleting = admin()
    await deleting.deleteTopics({ topics: [topic] }).catch(() => {})
    await deleting.close()
  }
  return { address: brokers, cleanup }
}

/** The local Kafka's bootstrap servers (scripts/kafka.sh, started if needed); undefined, with a message, when it cannot run. */
export function localKafka(root: string): string | undefined {
  return serverEnvironment(root, 'kafka', 'PG_TO_BROKERS_TEST_KAFKA_BROKERS')
}

/** Starts the broker's local server if needed and reads its address from `<script> env`; undefined when it cannot. */
function serverEnvironment(root: string, name: 'kinesis' | 'kafka', variable: string): string | undefined {
  const script = `${root}/scripts/${name}.sh`
  try {
    execFileSync('bash', [script, 'start'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 })
    const text = execFileSync('bash', [script, 'env'], { encoding: 'utf8' })
    const match = new RegExp(`^export ${variable}=(.*)$`, 'm').exec(text)
    if (match) return match[1]!.replace(/^'(.*)'$/, '$1')
    console.error(`${name}: scripts/${name}.sh env printed no ${variable}; leaving the ${name} writer out`)
  } catch (error) {
    console.error(
      `${name}: could not start the local server (scripts/${name}.sh start): ${(error as Error).message.split('\n')[0]}; leaving the ${name} writer out`,
    )
  }
  return undefined
}
