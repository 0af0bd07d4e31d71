/**
 * @module The two libpq connection string syntaxes (PostgreSQL docs, "Connection Strings"): a
 * postgres:// or postgresql:// URI, percent-encoding allowed in every part, or key=value settings.
 */
import { PgToBrokersError } from '../errors.ts'

/** The libpq parameters implemented here, and the environment variable that fills each in. */
export const PARAMETERS = {
  host: 'PGHOST',
  port: 'PGPORT',
  dbname: 'PGDATABASE',
  user: 'PGUSER',
  password: 'PGPASSWORD',
  application_name: 'PGAPPNAME',
  fallback_application_name: undefined,
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  options: 'PGOPTIONS',
} as const satisfies Record<string, string | undefined>
export type Parameter = keyof typeof PARAMETERS

/** A PgToBrokersError 'pg_config' about the connection string. */
export function configError(problem: string): PgToBrokersError {
  return new PgToBrokersError('pg_config', `invalid PostgreSQL connection settings: ${problem}`)
}

/** libpq parameters this tool does not implement: refused by name rather than silently ignored. */
const UNSUPPORTED = new Set([
  'hostaddr',
  'passfile',
  'service',
  'client_encoding',
  'replication',
  'require_auth',
  'channel_binding',
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
  'tcp_user_timeout',
  'sslcert',
  'sslkey',
  'sslpassword',
  'sslcertmode',
  'sslcrl',
  'sslcrldir',
  'sslsni',
  'sslcompression',
  'sslnegotiation',
  'requiressl',
  'requirepeer',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
  'gssencmode',
  'krbsrvname',
  'gsslib',
  'gssdelegation',
  'target_session_attrs',
  'load_balance_hosts',
])
const SUPPORTED = Object.keys(PARAMETERS).join(', ')

/**
 * The parameters a connection string names, percent-decoded, without defaults or environment.
 * @throws PgToBrokersError 'pg_config' for text libpq would refuse, or a parameter not supported here.
 */
export function parseConnectionText(text: string): Map<Parameter, string> {
  const prefix = /^postgres(?:ql)?:\/\//i.exec(text)
  if (prefix) return parseUri(text.slice(prefix[0].length))
  if (text.trim() === '' || (text.includes('=') && !/^[a-z][a-z0-9+.-]*:\/\//i.test(text))) return parseKeywordValue(text)
  throw configError(
    `expected a postgres:// or postgresql:// URL such as postgres://USER:PASSWORD@HOST:5432/DATABASE, ` +
      `or key=value settings such as "host=/var/run/postgresql dbname=app"`,
  )
}

/** postgresql://[userspec@][hostspec][/dbname][?paramspec], split as libpq's conninfo_uri_parse_options does. */
function parseUri(rest: string): Map<Parameter, string> {
  const found = new Map<Parameter, string>()
  // The user part ends at an "@" before the first "/": a password may hold "?" and ":" (and, here, "@").
  const firstSlash = rest.indexOf('/')
  const at = rest.slice(0, firstSlash < 0 ? undefined : firstSlash).lastIndexOf('@')
  if (at >= 0) {
    const userinfo = rest.slice(0, at)
    const colon = userinfo.indexOf(':')
    store(found, 'user', decode(colon < 0 ? userinfo : userinfo.slice(0, colon), 'user name'))
    if (colon >= 0) store(found, 'password', decode(userinfo.slice(colon + 1), 'password'))
  }
  const afterUser = rest.slice(at + 1)
  const query = afterUser.indexOf('?')
  const path = query < 0 ? afterUser : afterUser.slice(0, query)
  const slash = path.indexOf('/')
  const { host, port } = splitHostPort(slash < 0 ? path : path.slice(0, slash))
  store(found, 'host', decode(host, 'host'))
  store(found, 'port', decode(port, 'port'))
  if (slash >= 0) store(found, 'dbname', decode(path.slice(slash + 1), 'database name'))
  if (query >= 0) parseQuery(afterUser.slice(query + 1), found)
  return found
}

function splitHostPort(authority: string): { host: string; port: string } {
  if (authority.includes(',')) return { host: authority, port: '' } // several hosts: refused once resolved
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']')
    if (close < 0) throw configError('an IPv6 address in the URL has no closing "]"')
    if (close === 1) throw configError('an IPv6 address in the URL is empty')
    const after = authority.slice(close + 1)
    if (after !== '' && !after.startsWith(':')) throw configError('expected ":" or "/" after the IPv6 address "]" in the URL')
    return { host: authority.slice(1, close), port: after.slice(1) }
  }
  const colon = authority.indexOf(':')
  return colon < 0 ? { host: authority, port: '' } : { host: authority.slice(0, colon), port: authority.slice(colon + 1) }
}

function parseQuery(query: string, found: Map<Parameter, string>): void {
  for (const pair of query.split('&')) {
    if (pair === '') continue
    const parts = pair.split('=')
    if (parts.length !== 2)
      throw configError(`a URL query parameter ${parts.length < 2 ? 'has no "="' : 'has more than one "="'} (percent-encode "=" inside values as %3D)`)
    let key = decode(parts[0]!, 'query parameter name')
    let value = decode(parts[1]!, 'query parameter value')
    // libpq takes the JDBC spelling ssl=true as sslmode=require.
    if (key === 'ssl' && value === 'true') [key, value] = ['sslmode', 'require']
    store(found, parameter(key, 'URL query parameter'), value)
  }
}

/** key = value pairs separated by spaces; values in single quotes may hold spaces; backslash escapes the next character. */
function parseKeywordValue(text: string): Map<Parameter, string> {
  const found = new Map<Parameter, string>()
  let i = 0
  const skipSpaces = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++
  }
  for (;;) {
    skipSpaces()
    if (i >= text.length) return found
    const keyStart = i
    while (i < text.length && text[i] !== '=' && !/\s/.test(text[i]!)) i++
    const key = text.slice(keyStart, i)
    skipSpaces()
    if (text[i] !== '=') throw configError(`missing "=" after ${nameOf(key)} in the connection string`)
    i++
    skipSpaces()
    const quoted = text[i] === "'"
    if (quoted) i++
    let value = ''
    while (i < text.length && (quoted ? text[i] !== "'" : !/\s/.test(text[i]!))) {
      if (text[i] === '\\' && i + 1 < text.length) i++
      value += text[i++]
    }
    if (quoted) {
      if (i >= text.length) throw configError('a quoted value in the connection string has no closing quote')
      i++
    }
    store(found, parameter(key, 'connection parameter'), value)
  }
}

function parameter(key: string, what: string): Parameter {
  if (Object.hasOwn(PARAMETERS, key)) return key as Parameter
  if (UNSUPPORTED.has(key)) throw configError(`${what} ${nameOf(key)} is not supported by pg_to_brokers (supported: ${SUPPORTED})`)
  throw configError(`unknown ${what} ${nameOf(key)}: use ${SUPPORTED}; give server settings as options, as in options=-c%20statement_timeout%3D5s`)
}

function store(found: Map<Parameter, string>, key: Parameter, value: string): void {
  if (value !== '') found.set(key, value)
}

function decode(text: string, what: string): string {
  if (!text.includes('%')) return text
  let decoded: string
  try {
    decoded = decodeURIComponent(text)
  } catch {
    throw configError(`the ${what} in the URL has an invalid percent-encoding (write "%" itself as %25)`)
  }
  if (decoded.includes('\0')) throw configError(`the ${what} in the URL holds %00, which is not allowed`)
  return decoded
}

/** Names a parameter in a message only when it looks like one, so that a misplaced secret is never echoed. */
function nameOf(key: string): string {
  return /^[a-z_]{1,40}$/i.test(key) ? `"${key}"` : '(name not shown)'
}
