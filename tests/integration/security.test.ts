/**
 * Security: identifiers with quotes, spaces, semicolons and unicode work as publication and table
 * names and inject nothing; and no output (stdout, stderr, --help, error messages) ever shows the
 * PostgreSQL password or an AWS or Kafka secret, in a few failure scenarios and a debug-level run.
 */
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { describeExit, FixtureProcess, REPO_ROOT } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
const PG_PASSWORD = new URL(TEST_URL).password
const AWS = {
  AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEKEYID7781',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-wJalrXUtnFEMI-7781',
  AWS_SESSION_TOKEN: 'aws-session-token-7781',
  AWS_REGION: 'eu-west-1',
}
const KAFKA_PASSWORD = 'kafka-sasl-secret-7781'
const SECRETS = [PG_PASSWORD, AWS.AWS_SECRET_ACCESS_KEY, AWS.AWS_SESSION_TOKEN, KAFKA_PASSWORD]

function assertNoSecret(p: FixtureProcess, what: string): void {
  for (const secret of SECRETS)
    assert(!p.stdout.includes(secret) && !p.stderr.includes(secret), `${what}: a secret appeared in the output:\n${p.stdout}\n${p.stderr}`)
}

async function finished(args: string[], env: Record<string, string>): Promise<FixtureProcess> {
  const p = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL, ...AWS, ...env }, args)
  await p.waitForExit(40_000)
  return p
}

test('security: publication and table names with quotes, spaces, semicolons and unicode work and inject nothing', async () => {
  const sql = sqlClient()
  const suffix = uniqueName('x')
  const schema = `Schéma "ü" ${suffix}`
  const table = `Tab; DROP TABLE canary_${suffix}; -- "q" ñ`
  const publication = `pub "q" ü; DROP TABLE canary_${suffix}; --`
  const slot = uniqueName('s')
  const q = (name: string) => `"${name.replaceAll('"', '""')}"`
  const p = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL }, [
    'run',
    '--slot',
    slot,
    '--publication',
    publication,
    '--tables',
    `${q(schema)}.${q(table)}`,
  ])
  try {
    await sql.unsafe(
      `create table canary_${suffix} (id int primary key); create schema ${q(schema)}; create table ${q(schema)}.${q(table)} (id int primary key, ` +
        `"wéird col ""x""" text)`,
    )
    await waitFor(
      () => {
        if (p.exitStatus) throw new Error(`exited (${describeExit(p.exitStatus)}): ${p.stderr}`)
        return /\binfo streaming\b/.test(p.stderr)
      },
      30_000,
      'streaming',
    )
    await sql.unsafe(`insert into ${q(schema)}.${q(table)} values (1, 'é "quoted" ; text')`)
    await p.waitForLine(/"values":\[1,/)
    const record = JSON.parse(p.stdout.trim().split('\n')[0]!) as { table_name: string; fields: string[]; values: unknown[] }
    assertEquals(record.fields, ['id', 'wéird col "x"'])
    assertEquals(record.values, [1, 'é "quoted" ; text'])
    assert(record.table_name.includes(table), `table_name ${record.table_name} names the table`)
    const [pub] =
      await sql`select count(*)::int as n from pg_publication_tables where pubname = ${publication} and schemaname = ${schema} and tablename = ${table}`
    assertEquals(pub?.n, 1, 'the publication was created for exactly that table')
    const [canary] = await sql`select to_regclass(${`canary_${suffix}`}) is not null as present`
    assertEquals(canary?.present, true, 'nothing was injected: the canary table still exists')
    p.signal('SIGTERM')
    assertEquals((await p.waitForExit()).code, 0, 'clean stop')
    await dropSlot(sql, slot)
  } finally {
    if (!p.exitStatus) await p.kill()
    await sql.unsafe(`drop publication if exists ${q(publication)}; drop schema if exists ${q(schema)} cascade; drop table if exists canary_${suffix}`)
    await sql.end()
  }
})

test('security: no output shows the PostgreSQL password or AWS/Kafka secrets (help, bad config, failures, a debug-level run)', async () => {
  const wrongUrl = new URL(TEST_URL)
  wrongUrl.password = `${PG_PASSWORD}-wrong`
  const help = await finished(['--help'], {})
  assertEquals(help.exitStatus?.code, 0, 'help')
  assertNoSecret(help, '--help')
  const badUrl = await finished(['run'], { PG_TO_BROKERS_POSTGRES_URL: `postgres://pgtb:${PG_PASSWORD}@127.0.0.1:notaport/pgtb` })
  assertEquals(badUrl.exitStatus?.code, 2, `bad URL (stderr: ${badUrl.stderr})`)
  assertNoSecret(badUrl, 'a malformed URL')
  const wrongPassword = await finished(['run', '--slot', uniqueName('s')], { PG_TO_BROKERS_POSTGRES_URL: wrongUrl.href })
  assertEquals(wrongPassword.exitStatus?.code, 1, 'wrong password')
  assertNoSecret(wrongPassword, 'a wrong password')
  const kinesis = await finished(['run', '--slot', uniqueName('s'), '--kinesis-stream', 'nowhere', '--kinesis-endpoint', 'http://127.0.0.1:1'], {})
  assertEquals(kinesis.exitStatus?.code, 1, `kinesis unreachable (stderr: ${kinesis.stderr})`)
  assertNoSecret(kinesis, 'an unreachable Kinesis endpoint')
  const kafka = await finished(
    ['run', '--slot', uniqueName('s'), '--kafka-brokers', '127.0.0.1:1', '--kafka-topic', 't', '--kafka-sasl-mechanism', 'plain', '--kafka-sasl-username', 'u'],
    { PG_TO_BROKERS_KAFKA_SASL_PASSWORD: KAFKA_PASSWORD },
  )
  assertEquals(kafka.exitStatus?.code, 1, `kafka unreachable (stderr: ${kafka.stderr})`)
  assertNoSecret(kafka, 'unreachable Kafka brokers')

  const sql = sqlClient()
  const table = uniqueName('sec')
  const slot = uniqueName('s')
  const p = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL, ...AWS, PG_TO_BROKERS_LOG_LEVEL: 'debug' }, [
    'run',
    '--slot',
    slot,
    '--publication',
    slot,
    '--tables',
    table,
  ])
  try {
    await sql.unsafe(`create table ${table} (id int primary key)`)
    await waitFor(() => /\binfo streaming\b/.test(p.stderr) || p.exitStatus !== undefined, 30_000, 'streaming')
    await sql.unsafe(`insert into ${table} values (1)`)
    await p.waitForLine(/"values":\[1\]/)
    p.signal('SIGTERM')
    assertEquals((await p.waitForExit()).code, 0, `clean stop (stderr: ${p.stderr})`)
    assertNoSecret(p, 'a debug-level run')
    await dropSlot(sql, slot)
  } finally {
    if (!p.exitStatus) await p.kill()
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql.end()
  }
})

test("security: the README's least-privilege role streams with --no-create-publication", async () => {
  const sql = sqlClient()
  const role = uniqueName('cdc_role')
  const table = uniqueName('lp')
  const slot = uniqueName('s')
  const database = new URL(TEST_URL).pathname.slice(1)
  const url = new URL(TEST_URL)
  url.username = role
  url.password = 'least-privilege-7781'
  let p: FixtureProcess | undefined
  try {
    await sql.unsafe(`create table ${table} (id int primary key)`)
    // The README's SQL, with this test's names.
    await sql.unsafe(`CREATE ROLE ${role} WITH LOGIN REPLICATION PASSWORD 'least-privilege-7781';
      GRANT CONNECT ON DATABASE ${database} TO ${role};
      GRANT USAGE ON SCHEMA public TO ${role};
      GRANT SELECT ON public.${table} TO ${role};
      CREATE PUBLICATION ${slot} FOR TABLE public.${table};
      CREATE TABLE IF NOT EXISTS public.pg_to_brokers_slots (slot_name text PRIMARY KEY, created_lsn pg_lsn NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(), confirmed_lsn pg_lsn, confirmed_at timestamptz);
      GRANT SELECT, INSERT, UPDATE, DELETE ON public.pg_to_brokers_slots TO ${role};`)
    p = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: url.href }, ['run', '--slot', slot, '--publication', slot, '--no-create-publication'])
    const run = p
    await waitFor(
      () => {
        if (run.exitStatus) throw new Error(`exited (${describeExit(run.exitStatus)}): ${run.stderr}`)
        return /\binfo streaming\b/.test(run.stderr)
      },
      30_000,
      'streaming as the least-privilege role',
    )
    await sql.unsafe(`insert into ${table} values (42)`)
    await run.waitForLine(/"values":\[42\]/)
    run.signal('SIGTERM')
    assertEquals((await run.waitForExit()).code, 0, 'clean stop')
    await dropSlot(sql, slot)
  } finally {
    if (p && !p.exitStatus) await p.kill()
    await sql.unsafe(`drop publication if exists ${slot}; drop table if exists ${table}`)
    await sql.unsafe(`drop owned by ${role}; drop role if exists ${role}`).catch(() => {})
    await sql.end()
  }
})
