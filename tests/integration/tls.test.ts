// TLS to PostgreSQL: sslmode and sslrootcert in the URL, for the catalog and the replication connection.
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { describeExit, FixtureProcess, REPO_ROOT } from './process.ts'
import { sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'
import { startTlsCluster } from './tls-server.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`

function cli(url: string, slot: string): FixtureProcess {
  return new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: url }, ['run', '--slot', slot, '--publication', slot])
}

async function expectFailure(url: string, message: string): Promise<void> {
  const run = cli(url, uniqueName('s'))
  const status = await run.waitForExit(30_000)
  assertEquals(status.code, 1, `exit code (stderr: ${run.stderr.trim()})`)
  assert(run.stderr.includes(message), `stderr ${JSON.stringify(run.stderr.trim())} should contain ${JSON.stringify(message)}`)
}

test('tls: verify-full with the right CA streams; a wrong CA, a missing CA file and a bad sslmode fail clearly', async () => {
  const server = await startTlsCluster()
  try {
    const base = `postgres://postgres@127.0.0.1:${server.port}/postgres`
    const slot = uniqueName('s')
    const run = cli(`${base}?sslmode=verify-full&sslrootcert=${encodeURIComponent(server.caFile)}`, slot)
    await waitFor(() => {
      if (run.exitStatus) throw new Error(`exited (${describeExit(run.exitStatus)}): ${run.stderr}`)
      return /\binfo streaming\b/.test(run.stderr)
    }, 30_000, 'streaming over TLS')
    const sql = sqlClient(server.url)
    try {
      const rows = await sql<{ application_name: string; ssl: boolean }[]>`
        select a.application_name, s.ssl from pg_stat_activity a join pg_stat_ssl s using (pid)
        where a.application_name like 'pg_to_brokers%' order by 1`
      assertEquals(rows.map((r) => [r.application_name, r.ssl]), [['pg_to_brokers', true], ['pg_to_brokers_catalog', true]], 'both connections use TLS')
    } finally {
      await sql.end()
    }
    run.signal('SIGTERM')
    assertEquals((await run.waitForExit()).code, 0, 'clean stop')
    await expectFailure(`${base}?sslmode=verify-full&sslrootcert=${encodeURIComponent(server.otherCaFile)}`,
      `cannot verify the TLS certificate of PostgreSQL at 127.0.0.1:${server.port} (`)
    await expectFailure(`${base}?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt`, 'cannot read sslrootcert /nonexistent/ca.crt (no such file)')
    await expectFailure(`${base}?sslmode=verify-everything`, 'unknown sslmode "verify-everything" in the PostgreSQL URL: use disable, allow, prefer, require, verify-ca, verify-full')
    await expectFailure(`postgres://postgres@localhost:${server.port}/postgres?sslmode=verify-ca&sslrootcert=${encodeURIComponent(server.otherCaFile)}`, 'cannot verify the TLS certificate')
  } finally {
    server.stop()
  }
})

test('tls: sslmode=require against a server without TLS fails clearly', async () => {
  const url = new URL(TEST_URL)
  url.searchParams.set('sslmode', 'require')
  await expectFailure(url.href, `PostgreSQL at ${url.host} does not accept TLS`)
})
