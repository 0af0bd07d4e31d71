// sslmode and sslrootcert from the URL become the driver's ssl option; both leave the URL.
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { tlsSettings } from '../../src/pg/tls.ts'
import { PgToBrokersError } from '../../src/errors.ts'

const BASE = 'postgres://u:p@db.example:5432/app'

test('tls: sslmode maps to the driver option and leaves the URL; no sslmode keeps the URL as is', async () => {
  assertEquals(await tlsSettings(BASE), { url: BASE, ssl: false })
  assertEquals(await tlsSettings(`${BASE}?sslmode=disable`), { url: BASE, ssl: false })
  assertEquals(await tlsSettings(`${BASE}?sslmode=require&application_name=x`), { url: `${BASE}?application_name=x`, ssl: 'require' })
  assertEquals(await tlsSettings(`${BASE}?sslmode=prefer`), { url: BASE, ssl: 'prefer' })
  const full = await tlsSettings(`${BASE}?sslmode=verify-full`)
  assertEquals(full.url, BASE)
  assert(typeof full.ssl === 'object' && full.ssl.rejectUnauthorized === true && full.ssl.ca === undefined, 'verify-full without sslrootcert uses the system CAs')
})

test('tls: a bad sslmode or an unreadable sslrootcert is a pg_tls_config error', async () => {
  const failure = async (url: string) => {
    try {
      await tlsSettings(url)
    } catch (error) {
      return error instanceof PgToBrokersError ? `${error.code}: ${error.message}` : String(error)
    }
    return 'no error'
  }
  assertEquals(await failure(`${BASE}?sslmode=on`), 'pg_tls_config: unknown sslmode "on" in the PostgreSQL URL: use disable, allow, prefer, require, verify-ca, verify-full')
  assert((await failure(`${BASE}?sslmode=require&sslrootcert=/no/such/ca.pem`)).startsWith('pg_tls_config: cannot read sslrootcert /no/such/ca.pem (no such file)'), 'require with a root certificate verifies it')
})
