// The CLI with the Kinesis writer, as a user runs it against a local Kinesis server: flags and
// environment choose the writer, changes arrive in the stream, bad input is a clear error.
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { FixtureProcess, REPO_ROOT } from './process.ts'
import { createStream, deleteStream, readAll, TEST_CREDENTIALS, testClient } from './kinesis-support.ts'
import { kinesisEndpoint } from './kinesis-server.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor, waitForStreaming } from './support.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`
const AWS_ENV = { AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, AWS_REGION: 'us-east-1' }

test('kinesis cli: --kinesis-* flags stream changes into the stream and stop cleanly on SIGTERM', async () => {
  const sql = sqlClient()
  const client = await testClient()
  const table = uniqueName('kcli')
  const slot = uniqueName('s')
  const stream = uniqueName('cli')
  await createStream(client, stream, 2)
  try {
    await sql.unsafe(`create table ${table} (id int primary key, name text)`)
    const args = [
      'run',
      '--slot',
      slot,
      '--publication',
      slot,
      '--tables',
      table,
      '--kinesis-stream',
      stream,
      '--kinesis-endpoint',
      await kinesisEndpoint(),
      '--kinesis-aggregation',
    ]
    const run = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL, ...AWS_ENV }, args)
    await waitForStreaming(sql, slot)
    await sql.unsafe(`insert into ${table} values (1, 'one'), (2, 'two'); update ${table} set name = 'uno' where id = 1`)
    await waitFor(async () => (await readAll(client, stream)).length >= 3, 15_000, '3 records in the stream')
    run.signal('SIGTERM')
    assertEquals((await run.waitForExit()).code, 0, `exit code (stderr: ${run.stderr})`)
    const values = (await readAll(client, stream)).map((r) => (JSON.parse(r.data) as { values: unknown[] }).values)
    assertEquals(
      values.filter((v) => v[0] === 1),
      [
        [1, 'one'],
        [1, 'uno'],
      ],
    )
    assert(
      run.stderr.includes('kinesis stream ready') && run.stderr.includes('environment variables'),
      `the log names the stream and the credential source: ${run.stderr}`,
    )
    assert(!run.stderr.includes(TEST_CREDENTIALS.secretAccessKey), 'the secret key appeared in the logs')
    await dropSlot(sql, slot)
  } finally {
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql.end()
    await deleteStream(client, stream)
  }
})

test('kinesis cli: a missing stream is a specific error, exit 1', async () => {
  const endpoint = await kinesisEndpoint()
  const sql = sqlClient()
  const table = uniqueName('kcli')
  const slot = uniqueName('s')
  try {
    await sql.unsafe(`create table ${table} (id int primary key)`)
    const env = { PG_TO_BROKERS_POSTGRES_URL: TEST_URL, ...AWS_ENV, PG_TO_BROKERS_KINESIS_STREAM: 'no_such_stream', PG_TO_BROKERS_KINESIS_ENDPOINT: endpoint }
    const run = new FixtureProcess(CLI, env, ['run', '--slot', slot, '--publication', slot, '--tables', table])
    const status = await run.waitForExit(30_000)
    assertEquals(status.code, 1, `exit code (stderr: ${run.stderr.trim()})`)
    assert(run.stderr.includes(`Kinesis stream "no_such_stream" does not exist in us-east-1 at ${endpoint}`), run.stderr)
  } finally {
    // The slot and publication were prepared before the writer found the stream missing.
    await dropSlot(sql, slot).catch(() => {})
    await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${slot}`)
    await sql.end()
  }
})

test('kinesis cli: a missing region is a configuration error, exit 2', async () => {
  const run = new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: TEST_URL, AWS_REGION: '', AWS_DEFAULT_REGION: '' }, ['run', '--kinesis-stream', 'orders'])
  assertEquals((await run.waitForExit(30_000)).code, 2)
  assert(run.stderr.includes('writer.region: required for writer type "kinesis"; set --kinesis-region, AWS_REGION'), run.stderr)
})
