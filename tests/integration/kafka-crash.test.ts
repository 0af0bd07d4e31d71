/**
 * kill -9 of the streaming process (fixtures/stream-to-kafka.ts, on the runtime running this
 * suite) at random moments while a workload commits, restarted on the same slot each time; then a
 * last run catches up and stops cleanly. The topic must hold every committed change, each key's
 * first occurrences in order, and every duplicate must be a re-send with the same id and bytes.
 */
import { fileURLToPath } from 'node:url'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { mulberry32, testSeed } from '../seed.ts'
import { createTopics, deleteTopics, KAFKA_BROKERS, position, readTopics, withKafka, type ReadMessage } from './kafka-support.ts'
import { currentRuntime, describeExit, FixtureProcess, sleep } from './process.ts'
import { dropSlot, sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'

const FIXTURE = fileURLToPath(new URL('./fixtures/stream-to-kafka.ts', import.meta.url))
const TRANSACTIONS = 60
const KEYS = 500
const KILLS = 4

test('kafka crash: kill -9 while streaming, restart: nothing lost, order per key kept, duplicates are identical re-sends', () =>
  withKafka(async () => {
    const sql = sqlClient()
    const [table, slot, publication] = [uniqueName('kc'), uniqueName('s'), uniqueName('p')]
    const topic = uniqueName('pgtb_crash')
    const random = mulberry32(testSeed())
    let fixture: FixtureProcess | undefined
    try {
      await sql.unsafe(`create table ${table} (id int primary key, v int not null)`)
      await sql.unsafe(`create publication ${publication} for table ${table}`)
      await sql`select pg_create_logical_replication_slot(${slot}, 'pgoutput')`
      await createTopics([topic], 3)
      const spawn = async (): Promise<FixtureProcess> => {
        await waitFor(async () => (await sql`select active from pg_replication_slots where slot_name = ${slot}`)[0]?.active !== true, 10_000, 'slot released')
        fixture = new FixtureProcess(FIXTURE, {
          PGTB_FIXTURE_URL: TEST_URL,
          PGTB_FIXTURE_SLOT: slot,
          PGTB_FIXTURE_PUBLICATION: publication,
          PGTB_FIXTURE_TABLES: table,
          PGTB_FIXTURE_KAFKA_BROKERS: KAFKA_BROKERS.join(','),
          PGTB_FIXTURE_KAFKA_TOPIC: topic,
          PGTB_FIXTURE_BATCH_SIZE: '100',
        })
        await fixture.waitForLine(/^streaming /, 30_000)
        return fixture
      }
      // The workload: transactions of 1 to 200 rows, inserting new keys (v = 1) and bumping known ones.
      let changes = 0
      const workload = (async () => {
        for (let t = 0; t < TRANSACTIONS; t++) {
          const size = 1 + ((t * 37) % 200)
          const start = (t * 53) % KEYS
          const ids = Array.from({ length: Math.min(size, KEYS) }, (_, i) => 1 + ((start + i) % KEYS))
          await sql.unsafe(`insert into ${table} select i, 1 from unnest($1::int[]) i on conflict (id) do update set v = ${table}.v + 1`, [
            `{${ids.join(',')}}`,
          ])
          changes += ids.length
          await sleep(15)
        }
      })()
      let done = false
      void workload.finally(() => (done = true))
      let kills = 0
      while (kills < KILLS || !done) {
        const p = await spawn()
        await sleep(100 + Math.floor(random() * 700))
        if (p.exitStatus) throw new Error(`run exited by itself (${describeExit(p.exitStatus)}): ${p.stderr.trim()}`)
        assertEquals((await p.kill()).signal, 'SIGKILL', 'killed by SIGKILL')
        kills++
      }
      await workload
      const [{ target }] = (await sql`select pg_current_wal_insert_lsn()::text as target`) as unknown as [{ target: string }]
      const last = await spawn()
      await waitFor(
        async () => {
          await sql`select txid_current()` // a little WAL, so keepalives carry the slot past the target
          const [row] = await sql`select confirmed_flush_lsn >= ${target}::pg_lsn as done from pg_replication_slots where slot_name = ${slot}`
          return row?.done === true
        },
        45_000,
        `the last run to confirm up to ${target}`,
      )
      last.signal('SIGTERM')
      assertEquals((await last.waitForExit(20_000)).code, 0, `clean stop: ${last.stderr.trim()}`)
      const messages = await readTopics([topic], (m) => distinctIds(m) >= changes, { timeoutMs: 30_000 })
      const duplicates = verify(messages, changes)
      console.log(
        `     ${currentRuntime()}: ${changes} changes in ${TRANSACTIONS} transactions, ${kills} kills, ${messages.length} messages, ` +
          `${duplicates} duplicates (identical)`,
      )
      await dropSlot(sql, slot)
    } finally {
      if (fixture && !fixture.exitStatus) await fixture.kill()
      await sql.unsafe(`drop table if exists ${table}; drop publication if exists ${publication}`)
      await sql.end()
      await deleteTopics([topic])
    }
  }))

const distinctIds = (messages: readonly ReadMessage[]) => new Set(messages.map((m) => m.headers.id)).size

/** Checks every change arrived, order per key over first occurrences, identical duplicates; returns the duplicate count. */
function verify(messages: readonly ReadMessage[], changes: number): number {
  const firstById = new Map<string, string>()
  const byKey = new Map<string, ReadMessage[]>()
  for (const m of messages) byKey.set(m.key, [...(byKey.get(m.key) ?? []), m])
  for (const [key, list] of byKey) {
    list.sort((a, b) => (a.offset < b.offset ? -1 : 1))
    let v = 0
    let last = -1n
    for (const m of list) {
      const id = m.headers.id!
      const earlier = firstById.get(id)
      if (earlier !== undefined) {
        assertEquals(m.value, earlier, `re-sent ${id} is byte-identical`)
        continue
      }
      firstById.set(id, m.value)
      const value = (JSON.parse(m.value) as { values: number[] }).values[1]!
      assertEquals(value, v + 1, `key ${key}: first occurrences without gaps (${id})`)
      assert(position(id) > last, `key ${key}: ${id} in commit order`)
      v = value
      last = position(id)
    }
  }
  assertEquals(firstById.size, changes, 'every committed change arrived')
  return messages.length - firstById.size
}
