// Connection strings as libpq reads them: every URI form of the PostgreSQL docs, key=value text, PG* fallbacks, refusals.
import { test } from '../harness.ts'
import { assertEquals, assertThrows } from '../assert.ts'
import { parseConnectionSettings, type ConnectionSettings, type Environment } from '../../src/pg/conninfo.ts'
import { PgToBrokersError } from '../../src/errors.ts'

const DEFAULTS: ConnectionSettings = {
  host: 'localhost',
  port: 5432,
  user: undefined,
  password: undefined,
  database: undefined,
  applicationName: undefined,
  sslMode: 'prefer',
  sslRootCert: undefined,
  connectTimeoutSeconds: undefined,
  options: undefined,
}

const parsed = (text: string, env: Environment = {}) => parseConnectionSettings(text, env)
const settings = (changes: Partial<ConnectionSettings>): ConnectionSettings => ({ ...DEFAULTS, ...changes })

function problem(text: string, env: Environment = {}): string {
  try {
    parseConnectionSettings(text, env)
  } catch (error) {
    return error instanceof PgToBrokersError ? `${error.code}: ${error.message}` : `not a PgToBrokersError: ${String(error)}`
  }
  return 'no error'
}

test('conninfo: the URI forms of the PostgreSQL docs ("Connection URIs")', () => {
  assertEquals(parsed('postgresql://'), DEFAULTS)
  assertEquals(parsed('postgres://'), DEFAULTS)
  assertEquals(parsed('postgresql://localhost'), settings({ host: 'localhost' }))
  assertEquals(parsed('postgresql://localhost:5433'), settings({ port: 5433 }))
  assertEquals(parsed('postgresql://localhost/mydb'), settings({ database: 'mydb' }))
  assertEquals(parsed('postgresql://user@localhost'), settings({ user: 'user' }))
  assertEquals(parsed('postgresql://user:secret@localhost'), settings({ user: 'user', password: 'secret' }))
  assertEquals(
    parsed('postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp'),
    settings({ user: 'other', database: 'otherdb', connectTimeoutSeconds: 10, applicationName: 'myapp' }),
  )
  assertEquals(parsed('postgresql:///mydb?host=localhost&port=5433'), settings({ database: 'mydb', port: 5433 }))
  assertEquals(parsed('postgresql://[2001:db8::1234]/database'), settings({ host: '2001:db8::1234', database: 'database' }))
  assertEquals(parsed('postgresql://[::1]:5433/db'), settings({ host: '::1', port: 5433, database: 'db' }))
  assertEquals(parsed('postgresql:///dbname?host=/var/lib/postgresql'), settings({ host: '/var/lib/postgresql', database: 'dbname' }))
  assertEquals(parsed('postgresql://%2Fvar%2Flib%2Fpostgresql/dbname'), settings({ host: '/var/lib/postgresql', database: 'dbname' }))
  assertEquals(parsed('POSTGRES://db.example:6543/app'), settings({ host: 'db.example', port: 6543, database: 'app' }))
})

test('conninfo: a user with an empty host, and the query overriding the authority, as libpq does', () => {
  assertEquals(parsed('postgres://bench@/bench?host=/var/run/postgresql'), settings({ user: 'bench', database: 'bench', host: '/var/run/postgresql' }))
  assertEquals(parsed('postgresql://u:p@/app?host=/tmp'), settings({ user: 'u', password: 'p', database: 'app', host: '/tmp' }))
  assertEquals(parsed('postgres:///bench?host=/var/run/postgresql&user=bench'), settings({ user: 'bench', database: 'bench', host: '/var/run/postgresql' }))
  assertEquals(parsed('postgres://a@h1:1/d1?user=b&host=h2&port=2&dbname=d2'), settings({ user: 'b', host: 'h2', port: 2, database: 'd2' }))
  assertEquals(parsed('postgres://:5433'), settings({ port: 5433 }))
})

test('conninfo: percent-encoding is decoded in every part; a password may hold : ? and @', () => {
  assertEquals(
    parsed('postgres://us%40er:p%3Aa%2Fss%20w%25@db/my%20db?application_name=a%26b&options=-c%20search_path%3Dx'),
    settings({ user: 'us@er', password: 'p:a/ss w%', host: 'db', database: 'my db', applicationName: 'a&b', options: '-c search_path=x' }),
  )
  assertEquals(parsed('postgres://u:p?a:ss@db/app').password, 'p?a:ss')
  assertEquals(parsed('postgres://u:p@ss@db/app'), settings({ user: 'u', password: 'p@ss', host: 'db', database: 'app' }))
  assertEquals(parsed('postgres://%C3%BCser@db').user, 'üser')
})

test('conninfo: key=value settings, with quotes and backslash escapes', () => {
  assertEquals(parsed('host=/tmp dbname=app user=x'), settings({ host: '/tmp', database: 'app', user: 'x' }))
  assertEquals(
    parsed(" host = db  port=6000 password='a b\\'c' application_name=x\\ y "),
    settings({ host: 'db', port: 6000, password: "a b'c", applicationName: 'x y' }),
  )
  assertEquals(problem("password='open"), 'pg_config: invalid PostgreSQL connection settings: a quoted value in the connection string has no closing quote')
  assertEquals(problem('host /tmp dbname=x'), 'pg_config: invalid PostgreSQL connection settings: missing "=" after "host" in the connection string')
  assertEquals(
    problem('hots=db'),
    'pg_config: invalid PostgreSQL connection settings: unknown connection parameter "hots": use host, port, dbname, user, password, ' +
      'application_name, fallback_application_name, sslmode, sslrootcert, connect_timeout, options; give server settings as options, ' +
      'as in options=-c%20statement_timeout%3D5s',
  )
})

test('conninfo: PG* environment variables fill what the text leaves out; the text wins', () => {
  const env = {
    PGHOST: '/run/pg',
    PGPORT: '6001',
    PGUSER: 'envuser',
    PGPASSWORD: 'envpw',
    PGDATABASE: 'envdb',
    PGAPPNAME: 'envapp',
    PGSSLMODE: 'require',
    PGSSLROOTCERT: '/ca.pem',
    PGCONNECT_TIMEOUT: '7',
    PGOPTIONS: '-c work_mem=64MB',
  }
  const fromEnv = settings({
    host: '/run/pg',
    port: 6001,
    user: 'envuser',
    password: 'envpw',
    database: 'envdb',
    applicationName: 'envapp',
    sslMode: 'require',
    sslRootCert: '/ca.pem',
    connectTimeoutSeconds: 7,
    options: '-c work_mem=64MB',
  })
  assertEquals(parsed('postgres://', env), fromEnv)
  assertEquals(parsed('', env), fromEnv)
  assertEquals(parsed('postgres://u:p@db:5000/app?sslmode=disable&application_name=mine', env), {
    ...fromEnv,
    host: 'db',
    port: 5000,
    user: 'u',
    password: 'p',
    database: 'app',
    sslMode: 'disable',
    applicationName: 'mine',
  })
  assertEquals(parsed('postgres://', { PGHOST: '', PGPORT: '' }), DEFAULTS, 'empty variables count as unset')
  assertEquals(parsed('postgres:///x?fallback_application_name=fb'), settings({ database: 'x', applicationName: 'fb' }))
  assertEquals(parsed('postgres:///x?fallback_application_name=fb', { PGAPPNAME: 'env' }).applicationName, 'env')
  assertEquals(problem('postgres://', { PGPORT: 'x' }).startsWith('pg_config: invalid PostgreSQL connection settings: the port is not a number'), true)
})

test('conninfo: sslmode defaults to prefer; sslrootcert=system means verify-full and refuses weaker modes', () => {
  assertEquals(parsed('postgres://db').sslMode, 'prefer')
  assertEquals(parsed('postgres://db?ssl=true').sslMode, 'require')
  assertEquals(parsed('postgres://db?sslrootcert=/ca.pem'), settings({ host: 'db', sslRootCert: '/ca.pem' }), 'a CA file alone keeps prefer (libpq)')
  assertEquals(parsed('postgres://db?sslrootcert=system'), settings({ host: 'db', sslMode: 'verify-full', sslRootCert: 'system' }))
  assertEquals(parsed('postgres://db', { PGSSLROOTCERT: 'system' }).sslMode, 'verify-full')
  assertEquals(
    problem('postgres://db?sslrootcert=system&sslmode=require'),
    'pg_tls_config: sslmode "require" may not be used with sslrootcert=system: use sslmode=verify-full (or give a CA file as sslrootcert)',
  )
  assertEquals(
    problem('postgres://db?sslmode=on'),
    'pg_tls_config: unknown sslmode "on" in the PostgreSQL URL: use disable, allow, prefer, require, verify-ca, verify-full',
  )
})

test('conninfo: connect_timeout as libpq reads it (0 waits forever, 1 becomes 2)', () => {
  assertEquals(parsed('postgres://db?connect_timeout=0').connectTimeoutSeconds, 0)
  assertEquals(parsed('postgres://db?connect_timeout=1').connectTimeoutSeconds, 2)
  assertEquals(parsed('postgres://db?connect_timeout=-5').connectTimeoutSeconds, 0)
  assertEquals(
    problem('postgres://db?connect_timeout=soon'),
    'pg_config: invalid PostgreSQL connection settings: connect_timeout is not a whole number of seconds',
  )
})

test('conninfo: refusals name the problem and never quote the text', () => {
  const secret = 's3cr3t'
  const cases: Array<[string, string]> = [
    [`postgres://u:${secret}@db:99999/app`, 'the port is not a number from 1 to 65535'],
    [`postgres://u:${secret}@db:x/app`, 'the port is not a number from 1 to 65535'],
    [`postgres://u:${secret}/x@db/app`, 'the port is not a number from 1 to 65535 (if the password holds "/", "@", ":" or "?", percent-encode them)'],
    [`postgres://u:${secret}@db/app?statement_timeout=5s`, 'unknown URL query parameter "statement_timeout": use host, port'],
    [`postgres://u:${secret}@db/app?sslcert=/c.pem`, 'URL query parameter "sslcert" is not supported by pg_to_brokers (supported: host, port'],
    [`postgres://u:${secret}@db/app?replication=database`, 'URL query parameter "replication" is not supported'],
    [`postgres://u:${secret}@db/app?client_encoding=latin1`, 'URL query parameter "client_encoding" is not supported'],
    [`postgres://u:${secret}@db/app?${secret}`, 'a URL query parameter has no "="'],
    [`postgres://u:${secret}@db/app?a=b=c`, 'a URL query parameter has more than one "="'],
    [`postgres://u:${secret}@db/app?${secret}%=1`, 'has an invalid percent-encoding'],
    [`postgres://u:${secret}%zz@db/app`, 'the password in the URL has an invalid percent-encoding'],
    [`postgres://u:${secret}@db/a%00b`, 'the database name in the URL holds %00'],
    [`postgres://u:${secret}@[::1/app`, 'an IPv6 address in the URL has no closing "]"'],
    [`postgres://u:${secret}@[]/app`, 'an IPv6 address in the URL is empty'],
    [`postgres://u:${secret}@[::1]x/app`, 'expected ":" or "/" after the IPv6 address'],
    [`postgres://u:${secret}@h1:1,h2:2/app`, 'several hosts are not supported'],
    [`postgres://u:${secret}@/app?host=h1,h2`, 'several hosts are not supported'],
    [`mysql://u:${secret}@db/app`, 'expected a postgres:// or postgresql:// URL'],
    [`mysql://u:${secret}@db/app?a=b`, 'expected a postgres:// or postgresql:// URL'],
    [`u:${secret}@db/app`, 'expected a postgres:// or postgresql:// URL'],
    [`${secret}=x`, 'unknown connection parameter (name not shown)'],
  ]
  for (const [text, expected] of cases) {
    const message = problem(text)
    if (!message.includes(expected)) throw new Error(`${text}: ${JSON.stringify(message)} should contain ${JSON.stringify(expected)}`)
    if (text.startsWith('postgres') && message.includes(secret)) throw new Error(`${text}: the message quotes the password: ${message}`)
  }
  assertThrows(() => parsed('postgres://db?host=a,b'), 'point the URL at the primary')
})
