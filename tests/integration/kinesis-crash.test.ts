/**
 * The kill -9 test for Kinesis: while a workload is committed, the stream-to-kinesis fixture (a
 * separate process on the runtime running this suite) is SIGKILLed at random moments and started
 * again on the same slot, alternating plain and aggregated records; a last run catches up and stops
 * cleanly. Every shard is then read back: nothing committed is missing, each key's first
 * occurrences are in order, and every duplicate is a byte-identical re-send.
 */
import { fileURLToPath } from 'node:url'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { mulberry32, testSeed } from '../seed.ts'
import { createStream, deleteStream, readAll, TEST_CREDENTIALS, testClient } from './kinesis-support.ts'
import { kinesisEndpoint } from './kinesis-server.ts'
import { createWorkloadTables, dropWorkloadTables, runWorkload, verifyStream } from './kinesis-workload.ts'
import { currentRuntime, describeExit, FixtureProcess, sleep } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/stream-to-kinesis.ts', import.meta.url))
const CHANGES = 4000
const MIN_KILLS = 3
const KILL_DELAY_MS: readonly [number, number] = [100, 700]

test('kinesis: kill -9 at random moments while streaming to Kinesis, then restart: nothing lost, order kept, duplicates identical', async () => {
  const sql = sqlClient()
  const prefix = uniqueName('kcr')
  const slot = uniqueName('s')
  const publication = uniqueName('p')
  const stream = uniqueName('crash')
  const seed = testSeed()
  const rnd = mulberry32(seed)
  const client = await testClient()
  await createStream(client, stream, 4)
  const endpoint = await kinesisEndpoint()
  const tables = await createWorkloadTables(sql, prefix, publication)
  let fixture: FixtureProcess | undefined
  try {
    await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
    let runs = 0
    const spawnRun = async (): Promise<FixtureProcess> => {
      await waitFor(
        async () => (await sql`select active from pg_replication_slots where slot_name = ${slot}`)[0]?.active !== true,
        10_000,
        'the slot to be released',
      )
      fixture = new FixtureProcess(FIXTURE, {
        PGTB_FIXTURE_URL: TEST_URL,
        PGTB_FIXTURE_SLOT: slot,
        PGTB_FIXTURE_PUBLICATION: publication,
        PGTB_FIXTURE_KINESIS_STREAM: stream,
        PGTB_FIXTURE_KINESIS_ENDPOINT: endpoint,
        PGTB_FIXTURE_AGGREGATION: runs % 2 === 1 ? '1' : '0',
        PGTB_FIXTURE_BATCH_SIZE: String([50, 200, 1000][runs % 3]),
        AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      })
      runs++
      await fixture.waitForLine(/^streaming /, 30_000)
      return fixture
    }

    let workloadDone = false
    const workload = runWorkload(sql, tables, rnd, CHANGES).finally(() => (workloadDone = true))
    workload.catch(() => {})
    let kills = 0
    while (kills < MIN_KILLS || !workloadDone) {
      const run = await spawnRun()
      await sleep(KILL_DELAY_MS[0] + rnd() * (KILL_DELAY_MS[1] - KILL_DELAY_MS[0]))
      if (run.exitStatus) throw new Error(`run ${runs} exited by itself (${describeExit(run.exitStatus)}): ${run.stderr.trim()}`)
      assertEquals((await run.kill()).signal, 'SIGKILL', `run ${runs} ended by SIGKILL`)
      kills++
    }
    const committed = await workload

    const [{ target }] = (await sql`select pg_current_wal_insert_lsn()::text as target`) as unknown as [{ target: string }]
    const last = await spawnRun()
    await waitFor(
      async () => {
        if (last.exitStatus) throw new Error(`the last run exited (${describeExit(last.exitStatus)}): ${last.stderr.trim()}`)
        await sql`select txid_current()` // a little WAL, so a keepalive can carry the slot past the target
        const [row] = await sql`select confirmed_flush_lsn >= ${target}::pg_lsn as done from pg_replication_slots where slot_name = ${slot}`
        return row?.done === true
      },
      30_000,
      `the last run to confirm up to ${target}`,
    )
    last.signal('SIGTERM')
    assertEquals((await last.waitForExit(20_000)).code, 0, `the last run stops cleanly (stderr: ${last.stderr.trim()})`)

    const verdict = verifyStream(await readAll(client, stream), committed)
    assert(verdict.unique === CHANGES, `${verdict.unique} distinct records, expected ${CHANGES}`)
    console.log(
      `     ${currentRuntime()}, seed ${seed}: ${runs} runs, ${kills} kills; ${verdict.records} records in the stream, ${verdict.unique} distinct, ` +
        `${verdict.duplicates} duplicates (all identical)`,
    )
  } finally {
    if (fixture && !fixture.exitStatus) await fixture.kill()
    await dropSlot(sql, slot).catch(() => {})
    await dropWorkloadTables(sql, tables, publication)
    await sql.end()
    await deleteStream(client, stream)
  }
})
