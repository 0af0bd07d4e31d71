/**
 * @module `npm run bench [-- options]`: sets up each workload behind a template slot, copies the slot
 * once per consumer, drains every copy with every consumer in one run, then measures
 * commit→acknowledgement latency and summarises a CPU profile. Prints Markdown tables; writes the
 * raw figures to .cache/bench/results-<time>.json. See bench/RESULTS.md.
 *
 *   --cluster=defaults       a throwaway cluster with PostgreSQL's defaults (fsync on, ssl on), the default;
 *   --cluster=project        the project's test cluster (scripts/pg.sh; fsync off, no TLS: TLS rows are left out)
 *   --quick                  a tenth of the rows
 *   --workloads=main,wide,single
 *   --consumers=<id>,…       a subset (ids in bench/consumers.ts; e.g. pipeline_node_unix)
 *   --no-latency --no-profile
 *   --brokers                also the Kinesis and Kafka writers (needs scripts/kinesis.sh, scripts/kafka.sh)
 *   --node-flags="<flags>"   extra flags for the Node consumers, e.g. "--max-semi-space-size=2"
 *   --node=<path>            the Node binary the Node consumers run on (default: the one running this)
 *   --substitute=<src file>=<file>,…   bundle <file> in place of a source file (Node runs only): A/B a module
 *   --rounds=<n>             each consumer drains n copies of the slot, the consumers taking turns; the table shows each one's median run (default 1)
 *   --wait-idle=<seconds>    wait up to this long for the machine's 1-minute load to fall below 1 (default 120)
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import process from 'node:process'
import { brokerConsumers, localKafka } from './brokers.ts'
import { buildBundles } from './bundle.ts'
import { startCluster, type BenchCluster, type ClusterChoice } from './cluster.ts'
import { cli, consumers as allConsumers, type Connection, type Consumer, type Paths } from './consumers.ts'
import * as db from './db.ts'
import { measureKafkaLatency } from './kafka-latency.ts'
import { loadRows, measureLatency, type LatencyResult, type LoadShape } from './latency.ts'
import { measure, sleep, stopConsumers } from './measure.ts'
import { loadAverage } from './proc.ts'
import { summariseProfile, type ProfileSummary } from './profile.ts'
import { latencyTable, profileTable, rssProfile, workloadTable, type ConsumerResult, type WorkloadResult } from './report.ts'
import type { Job } from './runners/job.ts'
import { workloads } from './workloads.ts'

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '')
const OUT = `${ROOT}/.cache/bench`
/** This run's bundles, CLI copy, reports and profile: two runs at once (each on its own cluster) keep apart. */
const WORK = `${OUT}/run-${process.pid}`
const PROFILE_DIR = `${WORK}/profile`
const PROFILED = 'pipeline_node_unix_profiled'
/** Free space needed: the workloads write ~0.7 GB of WAL (full size), retained until their slots go. */
const MIN_FREE_BYTES = 3 * 1024 ** 3

interface Options {
  readonly cluster: ClusterChoice
  readonly quick: boolean
  readonly workloads: readonly string[] | undefined
  readonly consumers: readonly string[] | undefined
  readonly latency: boolean
  readonly profile: boolean
  readonly brokers: boolean
  readonly waitIdleSeconds: number
  readonly nodeFlags: readonly string[]
  readonly node: string
  readonly substitutes: ReadonlyMap<string, string>
  readonly rounds: number
}

function parseOptions(argv: readonly string[]): Options {
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const list = (name: string) => value(name)?.split(',').filter(Boolean)
  const cluster = value('cluster') ?? 'defaults'
  if (cluster !== 'defaults' && cluster !== 'project') throw new Error(`--cluster=${cluster}: choose defaults or project`)
  return {
    cluster,
    quick: argv.includes('--quick'),
    workloads: list('workloads'),
    consumers: list('consumers'),
    latency: !argv.includes('--no-latency'),
    profile: !argv.includes('--no-profile'),
    brokers: argv.includes('--brokers'),
    waitIdleSeconds: Number(value('wait-idle') ?? 120),
    nodeFlags: (value('node-flags') ?? '').split(' ').filter(Boolean),
    node: value('node') ?? process.execPath,
    substitutes: new Map((list('substitute') ?? []).map((pair) => pair.split('=') as [string, string])),
    rounds: Math.max(1, Number(value('rounds') ?? 1)),
  }
}

/** Set by ^C or SIGTERM: the consumer running is killed, and the run stops before the next one (slots are dropped). */
const interrupted = new AbortController()

async function main(): Promise<void> {
  const stop = () => {
    console.error('interrupted: stopping the consumer and dropping the bench slots')
    interrupted.abort()
    stopConsumers()
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  const options = parseOptions(process.argv.slice(2))
  checkDisk()
  mkdirSync(PROFILE_DIR, { recursive: true })
  try {
    const cli = buildCli()
    const cluster = await startCluster(options.cluster, ROOT)
    try {
      await runAll(options, cluster, cli)
    } finally {
      cluster.stop()
    }
  } finally {
    rmSync(WORK, { recursive: true, force: true })
  }
}

async function runAll(options: Options, cluster: BenchCluster, cli: string): Promise<void> {
  const paths: Paths = {
    bundles: `${WORK}/bundles`,
    cli,
    deno: `${ROOT}/node_modules/.bin/deno`,
    bun: `${ROOT}/node_modules/.bin/bun`,
    pgBin: cluster.pgBin,
    nodeFlags: options.nodeFlags,
    node: options.node,
  }
  await buildBundles(ROOT, paths.bundles, options.substitutes)
  await db.ensureDatabase(cluster.url)
  const connection = connectionOf(cluster)
  const admin = db.connect(connection.tcpUrl)
  const ssl = await db.sslEnabled(admin)
  const machine = `${await describeMachine(admin, paths)}\n- cluster: ${cluster.description}`
  console.log(`# pg_to_brokers benchmark, ${new Date().toISOString()}${options.quick ? ' (quick)' : ''}\n\n${machine}\n`)
  const results: WorkloadResult[] = []
  let latency: LatencyResult[] = []
  let profile: ProfileSummary | undefined
  try {
    await waitForIdle(options.waitIdleSeconds)
    await db.createSchema(admin)
    const chosen = selectConsumers(options).filter((c) => ssl || c.transport !== 'tls')
    if (!ssl) console.error('the cluster has ssl = off: the TLS consumers are left out')
    for (const workload of workloads(options.quick ? 0.1 : 1)) {
      if (options.workloads && !options.workloads.includes(workload.name)) continue
      const consumers = withBaselineAgain(chosen.filter((c) => workload.name === 'main' || c.id !== PROFILED))
      const result = await runWorkload(admin, workload, consumers, paths, connection, options.rounds)
      results.push(result)
      console.log(`${workloadTable(result)}\n`)
      if (workload.name === 'single') for (const r of result.results) console.log(`- RSS over the run, ${r.label}: ${rssProfile(r)}`)
    }
    if (options.latency) {
      latency = await runLatency(admin, paths, connection, options.quick, options.brokers || namesKafka(options))
      console.log(`\n${latencyTable(latency, describeLoad(latencyShape(options.quick)))}\n`)
    }
    profile = options.profile ? profileOf(paths) : undefined
    if (profile) console.log(`${profileTable(profile)}\n`)
  } finally {
    await db.dropBenchSlots(admin).catch((error) => console.error(`could not drop the bench slots: ${error}`))
    await admin.end()
  }
  const file = `${OUT}/results-${new Date().toISOString().replaceAll(':', '-')}.json`
  writeFileSync(file, JSON.stringify({ machine, options, results, latency, profile }, null, 1))
  console.log(`raw figures: ${file}`)
}

async function runWorkload(
  admin: ReturnType<typeof db.connect>,
  workload: ReturnType<typeof workloads>[number],
  consumers: readonly Consumer[],
  paths: Paths,
  connection: Connection,
  rounds: number,
): Promise<WorkloadResult> {
  await db.truncateTables(admin)
  await db.createTemplateSlot(admin)
  const started = performance.now()
  await workload.run(admin)
  const targetLsn = await db.commitMarker(admin, workload.name)
  console.error(`${workload.name}: workload committed in ${((performance.now() - started) / 1000).toFixed(1)} s, ends at ${targetLsn}`)
  // Consumers take turns round after round, every other round in reverse order: conditions drift
  // along a round (the baseline's second run is slower), and no consumer should always run late.
  const orderOf = (round: number) => (round % 2 === 0 ? consumers : [...consumers].reverse())
  const turns = Array.from({ length: rounds }, (_, round) => orderOf(round).map((consumer) => ({ consumer, round }))).flat()
  const slotOf = (turn: { consumer: Consumer; round: number }) => `${db.SLOT_PREFIX}${turn.consumer.id}${turn.round > 0 ? `_${turn.round}` : ''}`
  const expectedRows = workload.rows + 1 // the marker row
  const results: ConsumerResult[] = []
  for (const turn of turns) {
    interrupted.signal.throwIfAborted()
    // A round's copies are made as it starts (max_replication_slots is 10 by default); the template goes with the last.
    if (turn.consumer === orderOf(turn.round)[0]) {
      await db.copyTemplate(
        admin,
        consumers.map((consumer) => slotOf({ consumer, round: turn.round })),
        turn.round === rounds - 1,
      )
    }
    const consumer = turn.consumer
    const slot = slotOf(turn)
    const report = `${WORK}/${consumer.id}.report.json`
    const prepared = await consumer.prepare?.()
    const job: Job = { ...prepared?.extra, url: '', slot, publication: db.PUBLICATION, targetLsn, expectedRows, report }
    const timeoutMs = Math.max(120_000, (expectedRows / 2_000) * 1000)
    const measurement = await measure(
      admin,
      slot,
      consumer.command(job, paths, connection),
      report,
      timeoutMs,
      consumer.stopWhenConfirmed ? targetLsn : undefined,
    )
    await prepared?.cleanup()
    results.push({ id: consumer.id, label: consumer.label, baseline: consumer.baseline === true, expectedRows, measurement })
    console.error(`  ${consumer.label}: ${(expectedRows / measurement.seconds).toFixed(0)} rows/s, exit ${measurement.exitCode}`)
    if (measurement.exitCode !== 0) console.error(measurement.stderr)
    await db.dropSlot(admin, slot)
  }
  return { name: workload.name, title: workload.title, results: medianRuns(results) }
}

/** Each consumer's median run by rows/s (with one round, its only run). */
function medianRuns(results: readonly ConsumerResult[]): ConsumerResult[] {
  const byId = new Map<string, ConsumerResult[]>()
  for (const result of results) byId.set(result.id, [...(byId.get(result.id) ?? []), result])
  return [...byId.values()].map((runs) => [...runs].sort((a, b) => a.measurement.seconds - b.measurement.seconds)[Math.floor(runs.length / 2)]!)
}

function latencyShape(quick: boolean): LoadShape {
  return { rowsPerSecond: 4000, transactionsPerSecond: 40, seconds: quick ? 5 : 20 }
}

function describeLoad(shape: LoadShape): string {
  return `${shape.rowsPerSecond} rows/s as ${shape.transactionsPerSecond} transactions/s for ${shape.seconds} s, synchronous_commit = on`
}

/** Default batching on each runtime, on Node with a short batch latency to show what the batcher's timer costs, and over TCP. */
async function runLatency(
  admin: ReturnType<typeof db.connect>,
  paths: Paths,
  connection: Connection,
  quick: boolean,
  kafka: boolean,
): Promise<LatencyResult[]> {
  const shape = latencyShape(quick)
  const runs: { id: string; runtime: string; batchLatencyMs?: number }[] = [
    { id: 'pipeline_node_unix', runtime: 'node' },
    { id: 'pipeline_deno_unix', runtime: 'deno' },
    { id: 'pipeline_bun_unix', runtime: 'bun' },
    { id: 'pipeline_node_unix', runtime: 'node', batchLatencyMs: 1 },
    // Over TCP reads are paced (src/pg/read-pacing.ts): what the gathering pauses add to latency.
    { id: 'pipeline_node_tcp', runtime: 'node' },
    { id: 'pipeline_bun_tcp', runtime: 'bun' },
  ]
  const consumers = allConsumers(PROFILE_DIR)
  const results: LatencyResult[] = []
  for (const run of runs) {
    interrupted.signal.throwIfAborted()
    const consumer = consumers.find((c) => c.id === run.id)!
    const slot = `${db.SLOT_PREFIX}latency`
    const report = `${WORK}/latency.report.json`
    const job: Job = {
      url: '',
      slot,
      publication: db.PUBLICATION,
      targetLsn: '0/0',
      expectedRows: loadRows(shape),
      report,
      latency: true,
      ...(run.batchLatencyMs === undefined ? {} : { batchLatencyMs: run.batchLatencyMs }),
    }
    const label =
      `pg_to_brokers → stdout, ${run.runtime}, ${consumer.transport}, ` +
      `${run.batchLatencyMs === undefined ? 'default batching (maxLatencyMs 50)' : `maxLatencyMs ${run.batchLatencyMs}`}`
    await sleep(1000)
    results.push(await measureLatency(connection.tcpUrl, admin, slot, label, consumer.command(job, paths, connection), report, shape))
    console.error(`  latency, ${label}: p99 ${results[results.length - 1]!.p99.toFixed(1)} ms`)
  }
  const brokers = kafka ? localKafka(ROOT) : undefined
  if (brokers !== undefined && !interrupted.signal.aborted) results.push(await runKafkaLatency(admin, paths, connection, shape, brokers))
  return results
}

/** Commit → visible in Kafka: the CLI with --writer kafka over TCP, a reader of the topic in this process. */
async function runKafkaLatency(
  admin: ReturnType<typeof db.connect>,
  paths: Paths,
  connection: Connection,
  shape: LoadShape,
  brokers: string,
): Promise<LatencyResult> {
  const slot = `${db.SLOT_PREFIX}latency_kafka`
  const report = `${WORK}/latency-kafka.report.json`
  const job: Job = { url: '', slot, publication: db.PUBLICATION, targetLsn: '0/0', expectedRows: loadRows(shape), report }
  const label = 'pg-to-brokers run --writer kafka (CLI bundle) → Kafka (local broker) → read back from the topic, node, tcp, default batching'
  const command = (topic: string) => cli(job, paths, connection, 'tcp', ['--writer', 'kafka', '--kafka-brokers', brokers, '--kafka-topic', topic])
  await sleep(1000)
  const result = await measureKafkaLatency(connection.tcpUrl, admin, slot, label, brokers, command, report, shape)
  console.error(`  latency, ${label}: p99 ${result.p99.toFixed(1)} ms`)
  return result
}

function namesKafka(options: Options): boolean {
  return options.consumers?.some((id) => id.includes('kafka')) ?? false
}

/**
 * The baseline runs first and once more last: consumers run one after another on a shared
 * machine, and the two baseline figures show how much the conditions drifted meanwhile.
 */
function withBaselineAgain(consumers: readonly Consumer[]): Consumer[] {
  const baseline = consumers.find((c) => c.baseline)
  if (!baseline || consumers.length < 3) return [...consumers]
  const again: Consumer = { id: `${baseline.id}_again`, label: `${baseline.label} (again, last)`, transport: baseline.transport, command: baseline.command }
  return [...consumers, again]
}

function selectConsumers(options: Options): Consumer[] {
  // A broker consumer named in --consumers brings its broker in without --brokers.
  const namesBroker = options.consumers?.some((id) => /kafka|kinesis/.test(id)) ?? false
  let list = [...allConsumers(PROFILE_DIR), ...(options.brokers || namesBroker ? brokerConsumers(ROOT) : [])]
  if (!options.profile) list = list.filter((c) => c.id !== PROFILED)
  if (options.consumers) {
    const unknown = options.consumers.filter((id) => !list.some((c) => c.id === id))
    if (unknown.length > 0) throw new Error(`unknown consumer ${unknown.join(', ')}: choose from ${list.map((c) => c.id).join(', ')}`)
    list = list.filter((c) => options.consumers!.includes(c.id) || c.baseline)
  }
  return list
}

function profileOf(paths: Paths): ProfileSummary | undefined {
  const file = readdirSync(PROFILE_DIR).find((name) => name.endsWith('.cpuprofile'))
  return file ? summariseProfile(`${PROFILE_DIR}/${file}`, `${paths.bundles}/pipeline.mjs`) : undefined
}

/**
 * `npm run build -- --no-compile` (a no-op while the sources are unchanged), then a copy of dist/
 * in this run's directory: the CLI rows run the shipped bundle, and a build started meanwhile must not swap it.
 */
function buildCli(): string {
  const build = spawnSync(`${ROOT}/node_modules/.bin/tsx`, ['build/build.ts', '--no-compile'], { cwd: ROOT, encoding: 'utf8' })
  if (!existsSync(`${ROOT}/dist/pg-to-brokers.mjs`)) throw new Error(`the build made no dist/pg-to-brokers.mjs: ${build.stderr || build.stdout}`)
  if (build.status !== 0) console.error(`npm run build failed after bundling (the CLI bundle is used anyway):\n${build.stderr || build.stdout}`)
  // Laid out as the npm package installs it (bin/ beside dist/, no src/), so that the bin runs as `npx pg-to-brokers` does.
  cpSync(`${ROOT}/dist`, `${WORK}/package/dist`, {
    recursive: true,
    filter: (source) => !source.includes('/.build') && !/pg-to-brokers-(bun|deno)$/.test(source),
  })
  cpSync(`${ROOT}/bin`, `${WORK}/package/bin`, { recursive: true })
  return `${WORK}/package/bin/pg-to-brokers.mjs`
}

function connectionOf(cluster: BenchCluster): Connection {
  const url = new URL(cluster.url)
  return {
    tcpUrl: db.databaseUrl(cluster.url, db.BENCH_DATABASE),
    socketDir: cluster.socketDir,
    port: Number(url.port),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: db.BENCH_DATABASE,
  }
}

function checkDisk(): void {
  const line = execFileSync('df', ['-k', '--output=avail', ROOT], { encoding: 'utf8' }).trim().split('\n').pop()!
  const free = Number(line) * 1024
  if (free < MIN_FREE_BYTES)
    throw new Error(`only ${(free / 1024 ** 3).toFixed(1)} GB free under ${ROOT}: the benchmark needs ${MIN_FREE_BYTES / 1024 ** 3} GB for WAL`)
}

async function waitForIdle(seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000
  while (loadAverage() >= 1 && Date.now() < deadline) await sleep(5000)
  console.error(`1-minute load average at start: ${loadAverage().toFixed(2)}`)
}

async function describeMachine(admin: ReturnType<typeof db.connect>, paths: Paths): Promise<string> {
  const version = (file: string, args: string[]) => execFileSync(file, args, { encoding: 'utf8' }).split('\n')[0]!.trim()
  const cpu = cpus()
  return [
    `- machine: ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}), Linux`,
    `- Node ${version(paths.node, ['--version'])}, ${version(paths.deno, ['--version'])}, Bun ${version(paths.bun, ['--version'])}`,
    `- PostgreSQL ${await db.serverVersion(admin)}, logical_decoding_work_mem 64MB on the bench database`,
  ].join('\n')
}

try {
  await main()
} catch (error) {
  if (!interrupted.signal.aborted) throw error
  process.exitCode = 130
}
