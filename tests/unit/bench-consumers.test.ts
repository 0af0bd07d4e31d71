/** The benchmark's consumers connect as their row says: plain TCP never falls into TLS on a cluster with ssl = on. */
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { consumers, type Connection, type Paths } from '../../bench/consumers.ts'
import type { Job } from '../../bench/runners/job.ts'

const connection: Connection = {
  tcpUrl: 'postgres://u:p@127.0.0.1:5999/pgtb_bench',
  socketDir: '/tmp/sock',
  port: 5999,
  user: 'u',
  password: 'p',
  database: 'pgtb_bench',
}
const paths: Paths = { bundles: '/b', cli: '/pkg/bin/pg-to-brokers.mjs', deno: 'deno', bun: 'bun', pgBin: '/pg', nodeFlags: [], node: '/opt/node22/bin/node' }
const job: Job = { url: '', slot: 'pgtb_bench_x', publication: 'pgtb_bench', targetLsn: '0/10', expectedRows: 1, report: '/r.json' }

/** The sslmode a consumer's command asks for, wherever it puts its connection settings. */
function sslmodeOf(id: string): string | undefined {
  const consumer = consumers('/p').find((c) => c.id === id)
  assert(consumer !== undefined, `no consumer ${id}`)
  const command = consumer.command(job, paths, connection)
  const cliUrl = command.env['PG_TO_BROKERS_POSTGRES_URL']
  const jobUrl = command.env['PGTB_BENCH_JOB'] === undefined ? undefined : (JSON.parse(command.env['PGTB_BENCH_JOB']) as Job).url
  const url = cliUrl ?? jobUrl
  if (url !== undefined) return new URL(url).searchParams.get('sslmode') ?? undefined
  return /sslmode=(\w+)/.exec(command.args.join(' '))?.[1]
}

test('bench consumers: tcp rows disable TLS, tls rows require it, unix rows name neither', () => {
  for (const id of ['cli_node_tcp', 'postgres_subscribe_tcp', 'pipeline_node_tcp', 'pg_recvlogical_tcp', 'pipeline_bun_tcp'])
    assertEquals(sslmodeOf(id), 'disable', id)
  for (const id of ['cli_node_tls', 'postgres_subscribe_tls', 'pipeline_node_tls']) assertEquals(sslmodeOf(id), 'require', id)
  for (const id of ['pg_recvlogical_unix', 'pipeline_node_unix']) assertEquals(sslmodeOf(id), undefined, id)
})

test('bench consumers: the CLI rows run the npm bin on the chosen Node with run --slot --publication and are stopped by the harness', () => {
  for (const id of ['cli_node_tcp', 'cli_node_tls']) {
    const consumer = consumers('/p').find((c) => c.id === id)!
    assertEquals(consumer.stopWhenConfirmed, true, id)
    const { file, args } = consumer.command(job, paths, connection)
    assertEquals(file, paths.node, id)
    assertEquals(args.slice(-6), [paths.cli, 'run', '--slot', job.slot, '--publication', job.publication], id)
  }
})
