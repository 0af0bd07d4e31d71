/**
 * @module The workloads (shared/ANCHORS.md): 1,000,000 inserts in 1,000-row transactions then
 * 200,000 updates; wide rows (text and jsonb of a few kB); one 1,000,000-row transaction.
 * `--quick` divides every count by 10.
 */
import type postgres from 'postgres'

export interface Workload {
  readonly name: 'main' | 'wide' | 'single'
  readonly title: string
  /** Row changes it commits (the harness adds the marker row). */
  readonly rows: number
  /** Runs it to completion; every transaction is committed when it resolves. */
  run(sql: postgres.Sql): Promise<void>
}

const ROWS_PER_TRANSACTION = 1000
const WIDE_ROWS_PER_TRANSACTION = 500

export function workloads(scale: number): Workload[] {
  const inserts = 1_000_000 * scale
  const updates = 200_000 * scale
  const wide = 50_000 * scale
  const single = 1_000_000 * scale
  return [
    {
      name: 'main',
      title: `${count(inserts)} inserts in ${count(ROWS_PER_TRANSACTION)}-row transactions, then ${count(updates)} updates`,
      rows: inserts + updates,
      run: async (sql) => {
        await sql.unsafe(
          inTransactions(
            inserts / ROWS_PER_TRANSACTION,
            `
          insert into bench(account, amount, note)
          select (random() * 10000)::int, round((random() * 100000)::numeric, 2), 'note ' || md5(random()::text)
          from generate_series(1, ${ROWS_PER_TRANSACTION})`,
          ),
        )
        await sql.unsafe(
          inTransactions(
            updates / ROWS_PER_TRANSACTION,
            `
          update bench set amount = amount + 1, note = note || '!'
          where id > (t - 1) * ${ROWS_PER_TRANSACTION} and id <= t * ${ROWS_PER_TRANSACTION}`,
          ),
        )
      },
    },
    {
      name: 'wide',
      title: `${count(wide)} wide rows (3 kB text + 2.5 kB jsonb) in ${WIDE_ROWS_PER_TRANSACTION}-row transactions`,
      rows: wide,
      // body: distinct md5 digests, so it barely compresses and is TOASTed out of line; doc: jsonb that compresses.
      run: async (sql) => {
        await sql.unsafe(
          inTransactions(
            wide / WIDE_ROWS_PER_TRANSACTION,
            `
          insert into bench_wide(account, title, body, doc)
          select (random() * 10000)::int, 'title ' || g,
                 (select string_agg(md5(g::text || ':' || k), '') from generate_series(1, 96) k),
                 jsonb_build_object('id', g, 'tags', jsonb_build_array('red', 'green', 'blue'), 'text', repeat(md5(g::text), 40),
                   'items', (select jsonb_agg(jsonb_build_object('k', k, 'v', md5((g * k)::text), 'n', k * 1.5)) from generate_series(1, 20) k))
          from generate_series((t - 1) * ${WIDE_ROWS_PER_TRANSACTION} + 1, t * ${WIDE_ROWS_PER_TRANSACTION}) g`,
          ),
        )
      },
    },
    {
      name: 'single',
      title: `one transaction of ${count(single)} inserts`,
      rows: single,
      run: async (sql) => {
        await sql.unsafe(`
          insert into bench(account, amount, note)
          select (random() * 10000)::int, round((random() * 100000)::numeric, 2), 'note ' || md5(random()::text)
          from generate_series(1, ${single})`)
      },
    },
  ]
}

/** A DO block running `statement` once per transaction, with `t` = 1, 2, … (COMMIT inside DO: PostgreSQL 11+). */
function inTransactions(transactions: number, statement: string): string {
  return `do $$ begin for t in 1..${transactions} loop ${statement}; commit; end loop; end $$`
}

function count(n: number): string {
  return n.toLocaleString('en-US')
}
