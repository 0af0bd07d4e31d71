// sslmode and sslrootcert become the driver's ssl option, as libpq would use them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { tlsSettings } from '../../src/pg/tls.ts'
import { parseConnectionSettings } from '../../src/pg/conninfo.ts'
import { PgToBrokersError } from '../../src/errors.ts'

const BASE = 'postgres://u:p@db.example:5432/app'
const NO_HOME = {}

const ssl = (url: string, env: Record<string, string> = NO_HOME) => tlsSettings(parseConnectionSettings(url), env)

async function failure(url: string, env: Record<string, string> = NO_HOME): Promise<string> {
  try {
    await ssl(url, env)
  } catch (error) {
    return error instanceof PgToBrokersError ? `${error.code}: ${error.message}` : String(error)
  }
  return 'no error'
}

/** A HOME with .postgresql/root.crt holding `pem`, removed after `body`. */
async function withHome(pem: string | undefined, body: (env: Record<string, string>) => Promise<void>): Promise<void> {
  const home = mkdtempSync(`${tmpdir()}/pgtb-home-`)
  try {
    if (pem !== undefined) {
      mkdirSync(`${home}/.postgresql`)
      writeFileSync(`${home}/.postgresql/root.crt`, pem)
    }
    await body({ HOME: home })
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

test('tls: no sslmode means prefer (libpq default); disable, allow, prefer and require map to the driver option', async () => {
  assertEquals(await ssl(BASE), 'prefer')
  assertEquals(await ssl(`${BASE}?sslmode=disable`), false)
  assertEquals(await ssl(`${BASE}?sslmode=allow`), 'allow')
  assertEquals(await ssl(`${BASE}?sslmode=prefer`), 'prefer')
  assertEquals(await ssl(`${BASE}?sslmode=require&application_name=x`), 'require')
  assertEquals(await ssl(BASE, { HOME: '/nonexistent-home' }), 'prefer')
})

test('tls: a unix socket never uses TLS, whatever sslmode says (as libpq)', async () => {
  assertEquals(await ssl('postgres:///app?host=/var/run/postgresql&sslmode=require'), false)
  assertEquals(await ssl('postgres://%2Ftmp/app?sslmode=verify-full'), false)
})

test('tls: verify-ca and verify-full without a root certificate are refused before connecting, as libpq does', async () => {
  const refused = await failure(`${BASE}?sslmode=verify-full`, { HOME: '/nonexistent-home' })
  assertEquals(
    refused,
    'pg_tls_config: sslmode=verify-full needs a root certificate to verify the server, ' +
      'but root certificate file "/nonexistent-home/.postgresql/root.crt" does not exist: either provide the file, ' +
      "set sslrootcert to the CA certificate (PEM), use the system's trusted roots with sslrootcert=system, " +
      'or change sslmode to disable server certificate verification',
  )
  assert(
    (await failure(`${BASE}?sslmode=verify-ca`)).startsWith(
      'pg_tls_config: sslmode=verify-ca needs a root certificate to verify the server, but no root certificate file is configured',
    ),
    'no HOME',
  )
  const system = await ssl(`${BASE}?sslrootcert=system`)
  assert(typeof system === 'object' && system.rejectUnauthorized === true && system.ca === undefined, 'sslrootcert=system verifies against the system CAs')
})

test('tls: ~/.postgresql/root.crt is the default root certificate; with it require verifies the chain (verify-ca)', async () => {
  await withHome('PEM-FROM-HOME', async (env) => {
    const full = await ssl(`${BASE}?sslmode=verify-full`, env)
    assert(typeof full === 'object' && full.ca === 'PEM-FROM-HOME' && full.rejectUnauthorized === true, 'verify-full uses the default root certificate')
    const required = await ssl(`${BASE}?sslmode=require`, env)
    assert(typeof required === 'object' && required.ca === 'PEM-FROM-HOME', 'require with a root certificate verifies it')
    assertEquals(required.checkServerIdentity?.('db.example', {} as never), undefined, 'verify-ca does not check the host name')
    assertEquals(await ssl(BASE, env), 'prefer', 'prefer does not verify')
  })
  await withHome(undefined, async (env) => {
    assertEquals(await ssl(`${BASE}?sslmode=require`, env), 'require')
    assert(
      (await failure(`${BASE}?sslmode=verify-ca`, env)).includes(`root certificate file "${env['HOME']}/.postgresql/root.crt" does not exist`),
      'missing default file',
    )
  })
})

test('tls: an explicit sslrootcert is read; require with it verifies the chain; unreadable is a pg_tls_config error', async () => {
  await withHome(undefined, async (env) => {
    const ca = `${env['HOME']}/ca.pem`
    writeFileSync(ca, 'MY-CA')
    const verifyCa = await ssl(`${BASE}?sslmode=require&sslrootcert=${encodeURIComponent(ca)}`, env)
    assert(typeof verifyCa === 'object' && verifyCa.ca === 'MY-CA', 'require + sslrootcert = verify-ca')
    const fromEnv = await tlsSettings(parseConnectionSettings(`${BASE}?sslmode=verify-full`, { PGSSLROOTCERT: ca }), env)
    assert(typeof fromEnv === 'object' && fromEnv.ca === 'MY-CA', 'PGSSLROOTCERT')
  })
  assert(
    (await failure(`${BASE}?sslmode=require&sslrootcert=/no/such/ca.pem`)).startsWith('pg_tls_config: cannot read sslrootcert /no/such/ca.pem (no such file)'),
    'require with a missing root certificate',
  )
})
