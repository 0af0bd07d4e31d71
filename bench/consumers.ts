/**
 * @module The consumers the benchmark compares, as commands. Each gets its own copy of the
 * template slot and writes to /dev/null (stdout) where it writes anything.
 */
import process from 'node:process'
import { startNullKinesis, STUB_CREDENTIALS } from './null-kinesis.ts'
import type { Job } from './runners/job.ts'

/** `tcp` is plain TCP (sslmode=disable); `tls` is TCP with sslmode=require. */
export type Transport = 'unix' | 'tcp' | 'tls'

export interface Connection {
  /** TCP URL with password (postgres://user:pass@127.0.0.1:port/pgtb_bench), without sslmode. */
  readonly tcpUrl: string
  /** The unix socket directory, and the port that names the socket file. */
  readonly socketDir: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
}

export interface Paths {
  /** Directory of the esbuild bundles of the runners, for Node. */
  readonly bundles: string
  /** The npm bin of the shipped package (bin/pg-to-brokers.mjs beside the bundle in dist/, as `npm run build` makes it). */
  readonly cli: string
  readonly deno: string
  readonly bun: string
  /** Directory holding pg_recvlogical. */
  readonly pgBin: string
  /** Extra flags for every Node consumer (--node-flags=…), e.g. V8 heap sizes. */
  readonly nodeFlags: readonly string[]
  /** The Node binary for the Node consumers (--node=…). */
  readonly node: string
}

export interface Command {
  readonly file: string
  readonly args: readonly string[]
  readonly env: Readonly<Record<string, string>>
}

export interface Consumer {
  /** Stable id, used in --consumers=… and as the slot name suffix. */
  readonly id: string
  readonly label: string
  readonly transport: Transport
  /** The consumer against which the others are compared (pg_recvlogical over the unix socket). */
  readonly baseline?: boolean
  /**
   * Runs until stopped: the harness sends SIGTERM once the slot is confirmed past the workload's
   * end, and its time ends there (the CLI then flushes, confirms and exits, on its CPU bill).
   */
  readonly stopWhenConfirmed?: boolean
  /** Readies what the consumer writes to (a broker's stream or topic): fields for its job, and how to clean up. */
  readonly prepare?: () => Promise<{ readonly extra: Readonly<Record<string, unknown>>; readonly cleanup: () => Promise<void> }>
  command(job: Job, paths: Paths, connection: Connection): Command
}

type Runner = 'pipeline' | 'pg-logical-replication' | 'postgres-subscribe'

/**
 * In running order. Consumers run one after another on a shared machine, so those compared most
 * directly run next to each other: the ceiling, the CLI and postgres.js per transport, the library
 * runner, the other Node libraries; Deno and Bun after; the profiled run last.
 */
export function consumers(profileDir: string): Consumer[] {
  const list: Consumer[] = [pgRecvlogicalConsumer('unix')]
  // The primary figures first: the shipped CLI over TCP and TLS, each next to postgres.js over the same.
  for (const transport of ['tcp', 'tls'] as const) {
    list.push({
      id: `cli_node_${transport}`,
      label: `pg-to-brokers run (CLI bundle) → /dev/null, node, ${transport}`,
      transport,
      stopWhenConfirmed: true,
      command: (job, paths, c) => cli(job, paths, c, transport),
    })
    if (transport === 'tcp') list.push(cliKinesisStub(), cliWithMetrics())
    list.push(postgresSubscribe(transport))
  }
  list.push(pipeline('node', 'tls'))
  for (const transport of ['unix', 'tcp'] as const) {
    if (transport === 'tcp') list.push(pgRecvlogicalConsumer(transport))
    list.push(pipeline('node', transport))
    if (transport === 'unix') list.push(postgresSubscribe(transport))
    list.push({
      id: `pg_logical_replication_${transport}`,
      label: `pg-logical-replication (defaults), ${transport}`,
      transport,
      command: (job, paths, c) => script('node', 'pg-logical-replication', job, paths, c, transport),
    })
  }
  for (const runtime of ['deno', 'bun'] as const) for (const transport of ['unix', 'tcp'] as const) list.push(pipeline(runtime, transport))
  // V8 grows the young generation to 2 × 16 MB under a steady allocation rate; the deployment flag caps it.
  list.push({
    id: 'pipeline_node_unix_semi4',
    label: 'pg_to_brokers → stdout, node --max-semi-space-size=4, unix',
    transport: 'unix',
    command: (job, paths, c) => script('node', 'pipeline', job, paths, c, 'unix', ['--max-semi-space-size=4']),
  })
  list.push({
    id: 'pipeline_node_unix_profiled',
    label: 'pg_to_brokers → stdout, node --cpu-prof, unix',
    transport: 'unix',
    command: (job, paths, c) => script('node', 'pipeline', job, paths, c, 'unix', [`--cpu-prof`, `--cpu-prof-dir=${profileDir}`]),
  })
  return list
}

function pgRecvlogicalConsumer(transport: Transport): Consumer {
  return {
    id: `pg_recvlogical_${transport}`,
    label: `pg_recvlogical (pgoutput), ${transport}`,
    transport,
    ...(transport === 'unix' ? { baseline: true } : {}),
    command: (job, paths, c) => pgRecvlogical(job, paths, c, transport),
  }
}

function postgresSubscribe(transport: Transport): Consumer {
  return {
    id: `postgres_subscribe_${transport}`,
    label: `postgres.js subscribe('*'), ${transport}`,
    transport,
    command: (job, paths, c) => script('node', 'postgres-subscribe', job, paths, c, transport),
  }
}

/** The URL a consumer connects with: a unix socket (host from PGHOST), plain TCP, or TCP with TLS required. */
export function urlFor(c: Connection, transport: Transport): string {
  if (transport === 'unix') return `postgres:///${c.database}`
  const url = new URL(c.tcpUrl)
  url.searchParams.set('sslmode', transport === 'tls' ? 'require' : 'disable')
  return url.href
}

/**
 * The CLI as users run it: `npx pg-to-brokers run` (the npm bin, which may re-execute itself with V8 flags), the URL (with its password) from the environment;
 * `writerArgs` choose another writer than stdout.
 */
export function cli(job: Job, paths: Paths, c: Connection, transport: Transport, writerArgs: readonly string[] = []): Command {
  return {
    file: paths.node,
    args: [...paths.nodeFlags, paths.cli, 'run', '--slot', job.slot, '--publication', job.publication, ...writerArgs],
    env: { PG_TO_BROKERS_POSTGRES_URL: urlFor(c, transport) },
  }
}

/**
 * cli_node_tcp with the metrics listener on (nobody scrapes it): the cost of the per-row counters
 * and per-batch histograms. The port depends on this harness's PID, so two runs at once do not collide.
 */
function cliWithMetrics(): Consumer {
  return {
    id: 'cli_node_tcp_metrics',
    label: 'pg-to-brokers run --metrics-listen (CLI bundle) → /dev/null, node, tcp',
    transport: 'tcp',
    stopWhenConfirmed: true,
    command: (job, paths, c) => cli(job, paths, c, 'tcp', ['--metrics-listen', `127.0.0.1:${20_000 + (process.pid % 10_000)}`]),
  }
}

/** Where the Kinesis stub row's stub listens and the stream it holds: set by its prepare, read by its command. */
interface KinesisStubTarget {
  readonly kinesisEndpoint: string
  readonly kinesisStream: string
}

/**
 * The CLI as users run it with `--writer kinesis` (default options), against bench/null-kinesis.ts
 * on loopback: it answers at once but checks each request's SigV4 signature and limits, so the row
 * is the writer's own cost next to cli_node_tcp. A request the stub refused fails the run.
 */
function cliKinesisStub(): Consumer {
  return {
    id: 'cli_node_tcp_kinesis_stub',
    label: 'pg-to-brokers run --writer kinesis (CLI bundle) → Kinesis stub (checks SigV4 and limits, answers at once), node, tcp',
    transport: 'tcp',
    stopWhenConfirmed: true,
    prepare: async () => {
      const stream = `pgtb_bench_${Date.now().toString(36)}`
      const stub = await startNullKinesis({ streamName: stream })
      const target: KinesisStubTarget = { kinesisEndpoint: stub.endpoint, kinesisStream: stream }
      const cleanup = async () => {
        await stub.close()
        const { rejected, requests, records, reasons } = stub.stats
        if (rejected > 0 || records === 0) {
          throw new Error(
            `cli_node_tcp_kinesis_stub: the Kinesis stub refused ${rejected} of ${requests} requests (${records} records accepted), ` +
              `so its rows/s mean nothing: ${reasons.join('; ') || 'no record arrived'}`,
          )
        }
      }
      return { extra: { ...target }, cleanup }
    },
    command: (job, paths, c) => {
      const target = job as Job & Partial<KinesisStubTarget>
      const writerArgs = [
        '--writer',
        'kinesis',
        '--kinesis-stream',
        target.kinesisStream ?? 'pgtb_bench',
        '--kinesis-region',
        'us-east-1',
        '--kinesis-endpoint',
        target.kinesisEndpoint ?? 'http://127.0.0.1:9',
      ]
      const command = cli(job, paths, c, 'tcp', writerArgs)
      const keys = STUB_CREDENTIALS[0]!
      return { ...command, env: { ...command.env, AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey } }
    },
  }
}

function pipeline(runtime: 'node' | 'deno' | 'bun', transport: Transport): Consumer {
  return {
    id: `pipeline_${runtime}_${transport}`,
    label: `pg_to_brokers → stdout, ${runtime}, ${transport}`,
    transport,
    command: (job, paths, c) => script(runtime, 'pipeline', job, paths, c, transport),
  }
}

function pgRecvlogical(job: Job, paths: Paths, c: Connection, transport: Transport): Command {
  const host = transport === 'unix' ? c.socketDir : '127.0.0.1'
  const sslmode = transport === 'unix' ? '' : ` sslmode=${transport === 'tls' ? 'require' : 'disable'}`
  return {
    file: `${paths.pgBin}/pg_recvlogical`,
    args: [
      `--dbname=host=${host} port=${c.port} user=${c.user} dbname=${c.database}${sslmode}`,
      `--slot=${job.slot}`,
      '--start',
      '--no-loop',
      '-o',
      'proto_version=1',
      '-o',
      `publication_names=${job.publication}`,
      `--endpos=${job.targetLsn}`,
      '--file=/dev/null',
    ],
    env: { PGPASSWORD: c.password },
  }
}

/** A runner script on a runtime: Node runs the esbuild bundle (as the npm package ships), Deno and Bun the TypeScript. */
function script(
  runtime: 'node' | 'deno' | 'bun',
  runner: Runner,
  job: Job,
  paths: Paths,
  c: Connection,
  transport: Transport,
  nodeArgs: readonly string[] = [],
): Command {
  const url = urlFor(c, transport)
  // With no host in the URL, postgres.js and pg take it from PGHOST: a directory means its unix socket.
  const socketEnv = transport === 'unix' ? { PGHOST: c.socketDir, PGPORT: String(c.port), PGUSER: c.user } : {}
  const env = { ...socketEnv, PGTB_BENCH_JOB: JSON.stringify({ ...job, url }) }
  const source = new URL(`./runners/${runner}.ts`, import.meta.url).pathname
  switch (runtime) {
    case 'node':
      return { file: paths.node, args: [...paths.nodeFlags, ...nodeArgs, `${paths.bundles}/${runner}.mjs`], env }
    case 'deno':
      return { file: paths.deno, args: ['run', '-A', '--quiet', source], env }
    case 'bun':
      return { file: paths.bun, args: [source], env }
  }
}
