/**
 * @module The Kinesis tests' PostgreSQL workload (three tables with different key shapes, inserts
 * then repeated updates of the same keys) and the verifier that compares what a stream holds with
 * what was committed.
 */
import type postgres from 'postgres'
import { assert } from '../assert.ts'
import type { ReadRecord } from './kinesis-support.ts'

/** The workload's tables: an int key, a text key, and a two-column key. */
export interface WorkloadTables {
  readonly a: string
  readonly b: string
  readonly c: string
}

/** Creates the tables and a publication for them. */
export async function createWorkloadTables(sql: postgres.Sql, prefix: string, publication: string): Promise<WorkloadTables> {
  const tables = { a: `${prefix}_a`, b: `${prefix}_b`, c: `${prefix}_c` }
  await sql.unsafe(`
    create table ${tables.a} (id int primary key, v int not null);
    create table ${tables.b} (code text primary key, v int not null);
    create table ${tables.c} (a int, b text, v int not null, primary key (a, b));
    create publication ${publication} for table ${tables.a}, ${tables.b}, ${tables.c}`)
  return tables
}

export async function dropWorkloadTables(sql: postgres.Sql, tables: WorkloadTables, publication: string): Promise<void> {
  await sql.unsafe(`drop table if exists ${tables.a}, ${tables.b}, ${tables.c}; drop publication if exists ${publication}`)
}

/**
 * Commits about `changes` row changes in transactions of 1–200 changes; a transaction may update
 * one key several times. Returns each key's final version: key → v ("public.table|[key values]").
 */
export async function runWorkload(
  sql: postgres.Sql,
  tables: WorkloadTables,
  rnd: () => number,
  changes: number,
  keysPerTable = 300,
): Promise<Map<string, number>> {
  const version = new Map<string, number>()
  let done = 0
  while (done < changes) {
    const size = Math.min(changes - done, 1 + Math.floor(rnd() * (rnd() < 0.8 ? 40 : 200)))
    await sql.begin(async (tx) => {
      for (let i = 0; i < size; i++) await change(tx, tables, version, pick(rnd, keysPerTable))
    })
    done += size
  }
  return version
}

type Pick = { table: 'a' | 'b' | 'c'; n: number }

function pick(rnd: () => number, keys: number): Pick {
  const r = rnd()
  return { table: r < 0.4 ? 'a' : r < 0.7 ? 'b' : 'c', n: Math.floor(rnd() * keys) }
}

async function change(tx: postgres.TransactionSql, tables: WorkloadTables, version: Map<string, number>, { table, n }: Pick): Promise<void> {
  const name = `public.${tables[table]}`
  const key = table === 'a' ? [n] : table === 'b' ? [`code-${n}`] : [n % 17, `part-${n}`]
  const id = `${name}|${JSON.stringify(key)}`
  const v = (version.get(id) ?? 0) + 1
  version.set(id, v)
  if (v === 1) {
    const columns = table === 'a' ? 'id, v' : table === 'b' ? 'code, v' : 'a, b, v'
    await tx.unsafe(`insert into ${tables[table]} (${columns}) values (${key.map((_, i) => `$${i + 1}`).join(', ')}, $${key.length + 1})`, [...key, v])
  } else {
    const where = table === 'a' ? 'id = $1' : table === 'b' ? 'code = $1' : 'a = $1 and b = $2'
    await tx.unsafe(`update ${tables[table]} set v = $${key.length + 1} where ${where}`, [...key, v])
  }
}

export interface Verdict {
  readonly records: number
  readonly unique: number
  readonly duplicates: number
  readonly shards: number
}

/**
 * Checks a stream's records against the committed versions: every change is there; each key's
 * first occurrences run v = 1, 2, 3, … in the order its shard holds them, all in one shard; every
 * repeated id is byte-identical to its first occurrence (a re-send).
 */
export function verifyStream(records: readonly ReadRecord[], committed: ReadonlyMap<string, number>): Verdict {
  const firstById = new Map<string, string>()
  const lastV = new Map<string, number>()
  const shardOf = new Map<string, string>()
  for (const record of records) {
    const parsed = JSON.parse(record.data) as { id: string; table_name: string; values: unknown[] }
    const earlier = firstById.get(parsed.id)
    if (earlier !== undefined) {
      assert(earlier === record.data, `record ${parsed.id} was stored twice with different bytes:\n  ${earlier}\n  ${record.data}`)
      continue
    }
    firstById.set(parsed.id, record.data)
    const key = `${parsed.table_name}|${JSON.stringify(parsed.values.slice(0, -1))}`
    const v = parsed.values.at(-1) as number
    const expected = (lastV.get(key) ?? 0) + 1
    assert(
      v === expected,
      `key ${key}: first occurrences out of order or with a gap: got v=${v} (record ${parsed.id}, shard ${record.shardId}), expected v=${expected}`,
    )
    lastV.set(key, v)
    const shard = shardOf.get(key)
    assert(shard === undefined || shard === record.shardId, `key ${key} is spread over shards ${shard} and ${record.shardId}`)
    shardOf.set(key, record.shardId)
  }
  const missing = [...committed].filter(([key, v]) => lastV.get(key) !== v)
  assert(
    missing.length === 0,
    `${missing.length} keys lack committed changes, e.g. ${missing
      .slice(0, 3)
      .map(([k, v]) => `${k}: got v=${lastV.get(k) ?? 0}, committed v=${v}`)
      .join('; ')}`,
  )
  const extra = [...lastV.keys()].filter((key) => !committed.has(key))
  assert(extra.length === 0, `records for keys never committed: ${extra.slice(0, 3).join(', ')}`)
  return { records: records.length, unique: firstById.size, duplicates: records.length - firstById.size, shards: new Set(shardOf.values()).size }
}
