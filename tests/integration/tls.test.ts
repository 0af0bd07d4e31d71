// TLS to PostgreSQL: sslmode and sslrootcert in the URL, for the catalog and the replication connection.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { describeExit, FixtureProcess, REPO_ROOT } from './process.ts'
import { sqlClient, TEST_URL, uniqueName, waitFor } from './support.ts'
import { startTlsCluster } from './tls-server.ts'

const CLI = `${REPO_ROOT}src/cli/entry.ts`

function cli(url: string, slot: string, env: Record<string, string> = {}): FixtureProcess {
  return new FixtureProcess(CLI, { PG_TO_BROKERS_POSTGRES_URL: url, ...env }, ['run', '--slot', slot, '--publication', slot])
}

async function expectFailure(url: string, message: string, env: Record<string, string> = {}, code = 1): Promise<void> {
  const run = cli(url, uniqueName('s'), env)
  const status = await run.waitForExit(30_000)
  assertEquals(status.code, code, `exit code (stderr: ${run.stderr.trim()})`)
  assert(run.stderr.includes(message), `stderr ${JSON.stringify(run.stderr.trim())} should contain ${JSON.stringify(message)}`)
}

test('tls: verify-full with the right CA streams; a wrong CA, a missing CA file and a bad sslmode fail clearly', async () => {
  const server = await startTlsCluster()
  try {
    const base = `postgres://postgres@127.0.0.1:${server.port}/postgres`
    const slot = uniqueName('s')
    const run = cli(`${base}?sslmode=verify-full&sslrootcert=${encodeURIComponent(server.caFile)}`, slot)
    await waitFor(
      () => {
        if (run.exitStatus) throw new Error(`exited (${describeExit(run.exitStatus)}): ${run.stderr}`)
        return /\binfo streaming\b/.test(run.stderr)
      },
      30_000,
      'streaming over TLS',
    )
    const sql = sqlClient(server.url)
    try {
      const rows = await sql<{ application_name: string; ssl: boolean }[]>`
        select a.application_name, s.ssl from pg_stat_activity a join pg_stat_ssl s using (pid)
        where a.application_name like 'pg_to_brokers%' order by 1`
      // The snapshot-request connection opens as streaming starts: it must use TLS too, when it is there yet.
      assertEquals(
        rows.filter((r) => r.application_name !== 'pg_to_brokers_snapshot' || !r.ssl).map((r) => [r.application_name, r.ssl]),
        [
          ['pg_to_brokers', true],
          ['pg_to_brokers_catalog', true],
        ],
        'every connection uses TLS',
      )
    } finally {
      await sql.end()
    }
    run.signal('SIGTERM')
    assertEquals((await run.waitForExit()).code, 0, 'clean stop')
    await expectFailure(
      `${base}?sslmode=verify-full&sslrootcert=${encodeURIComponent(server.otherCaFile)}`,
      `cannot verify the TLS certificate of PostgreSQL at 127.0.0.1:${server.port} (`,
    )
    await expectFailure(`${base}?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt`, 'cannot read sslrootcert /nonexistent/ca.crt (no such file)')
    await expectFailure(
      `${base}?sslmode=verify-everything`,
      'postgres.url: unknown sslmode "verify-everything" in the PostgreSQL URL: use disable, allow, prefer, require, verify-ca, verify-full',
      {},
      2,
    )
    await expectFailure(
      `postgres://postgres@localhost:${server.port}/postgres?sslmode=verify-ca&sslrootcert=${encodeURIComponent(server.otherCaFile)}`,
      'cannot verify the TLS certificate',
    )
  } finally {
    server.stop()
  }
})

test('tls: sslmode=require against a server without TLS fails clearly', async () => {
  const url = new URL(TEST_URL)
  url.searchParams.set('sslmode', 'require')
  await expectFailure(url.href, `PostgreSQL at ${url.host} does not accept TLS`)
})

/** A HOME directory, with .postgresql/root.crt copied from `rootCert` when given. */
function homeWith(rootCert: string | undefined): string {
  const home = mkdtempSync(`${REPO_ROOT}.cache/pgtb-home-`)
  if (rootCert !== undefined) {
    mkdirSync(`${home}/.postgresql`)
    copyFileSync(rootCert, `${home}/.postgresql/root.crt`)
  }
  return home
}

/** Runs the CLI until it streams, then reports (application_name, ssl) of its sessions and stops it. */
async function streamOnce(url: string, env: Record<string, string>, serverUrl: string): Promise<Array<[string, boolean]>> {
  const name = uniqueName('tlsapp')
  const run = cli(url, uniqueName('s'), { ...env, PGAPPNAME: name })
  try {
    await waitFor(
      () => {
        if (run.exitStatus) throw new Error(`exited (${describeExit(run.exitStatus)}): ${run.stderr}`)
        return /\binfo streaming\b/.test(run.stderr)
      },
      30_000,
      'streaming',
    )
    const sql = sqlClient(`${serverUrl}?sslmode=disable`)
    try {
      const rows = await sql<{ backend_type: string; ssl: boolean }[]>`
        select a.backend_type, s.ssl from pg_stat_activity a join pg_stat_ssl s using (pid) where a.application_name = ${name} order by 1`
      // One entry per kind of session: the snapshot-request connection is a second client backend, opened as streaming starts.
      return [...new Map(rows.map((r) => [`${r.backend_type}:${r.ssl}`, [r.backend_type, r.ssl] as [string, boolean]])).values()]
    } finally {
      await sql.end()
    }
  } finally {
    run.signal('SIGTERM')
    await run.waitForExit()
  }
}

test('tls: no sslmode prefers TLS as libpq does; ~/.postgresql/root.crt is the default root certificate; verify-ca without one is refused', async () => {
  const server = await startTlsCluster()
  const homes = { empty: homeWith(undefined), right: homeWith(server.caFile), wrong: homeWith(server.otherCaFile) }
  try {
    const base = `postgres://postgres@127.0.0.1:${server.port}/postgres`
    const both: Array<[string, boolean]> = [
      ['client backend', true],
      ['walsender', true],
    ]
    assertEquals(await streamOnce(base, { HOME: homes.empty }, server.url), both, 'the default sslmode (prefer) uses TLS when the server offers it')
    assertEquals(await streamOnce(`${base}?sslmode=verify-full`, { HOME: homes.right }, server.url), both, 'verify-full with the CA in ~/.postgresql/root.crt')
    await expectFailure(
      `${base}?sslmode=verify-ca`,
      `sslmode=verify-ca needs a root certificate to verify the server, but root certificate file "${homes.empty}/.postgresql/root.crt" does not ` +
        `exist: either provide the file`,
      { HOME: homes.empty },
    )
    // libpq: with a root certificate at hand, require verifies the chain like verify-ca.
    await expectFailure(`${base}?sslmode=require`, `cannot verify the TLS certificate of PostgreSQL at 127.0.0.1:${server.port} (`, { HOME: homes.wrong })
    await expectFailure(`${base}?sslmode=verify-full&sslrootcert=system`, `cannot verify the TLS certificate of PostgreSQL at 127.0.0.1:${server.port} (`, {
      HOME: homes.right,
    })
  } finally {
    server.stop()
    for (const home of Object.values(homes)) rmSync(home, { recursive: true, force: true })
  }
})
