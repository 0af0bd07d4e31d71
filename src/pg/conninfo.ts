/**
 * @module Connection settings as libpq reads them: a postgres:// URI or key=value text, then the
 * PG* environment variables for whatever the text leaves out (the text wins), then the defaults.
 */
import { PgToBrokersError } from '../errors.ts'
import { configError, parseConnectionText, PARAMETERS, type Parameter } from './conninfo-text.ts'

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
export type SslMode = (typeof SSL_MODES)[number]

/** Where and how to connect, with every default applied except the user (the driver takes the OS user). */
export interface ConnectionSettings {
  /** A host name or IP address, or (starting with '/') the directory holding the server's unix socket. */
  readonly host: string
  readonly port: number
  /** undefined: the operating system's user name, as libpq does. */
  readonly user: string | undefined
  readonly password: string | undefined
  /** undefined: the user name, as libpq does. */
  readonly database: string | undefined
  /** undefined: the caller's own name for the connection. */
  readonly applicationName: string | undefined
  readonly sslMode: SslMode
  /** A CA file, or 'system' for the system's trusted roots; undefined: ~/.postgresql/root.crt if it exists. */
  readonly sslRootCert: string | undefined
  /** From connect_timeout; 0 waits forever; undefined leaves the caller's own timeout. */
  readonly connectTimeoutSeconds: number | undefined
  /** libpq's `options`: server settings for the session, as in "-c statement_timeout=5s". */
  readonly options: string | undefined
}

/** Environment variables by name, as the runtime hands them over. */
export type Environment = Readonly<Record<string, string | undefined>>

const DEFAULT_HOST = 'localhost'
const DEFAULT_PORT = 5432

/**
 * Reads a connection string (postgres:// or postgresql:// URI, or libpq key=value settings) and
 * fills the gaps from `env` as libpq does. One host only: a replication slot lives on one server.
 * @throws PgToBrokersError 'pg_config' naming the problem; the message never quotes the text (it may hold a password).
 */
export function parseConnectionSettings(text: string, env: Environment = {}): ConnectionSettings {
  const given = parseConnectionText(text)
  const pick = (key: Parameter): string | undefined => {
    const variable = PARAMETERS[key]
    return nonEmpty(given.get(key)) ?? (variable === undefined ? undefined : nonEmpty(env[variable]))
  }
  const host = pick('host') ?? DEFAULT_HOST
  const portText = pick('port')
  if (host.includes(',') || portText?.includes(',')) {
    throw configError('several hosts are not supported: give one host and port (a replication slot lives on one server; point the URL at the primary)')
  }
  const { sslMode, sslRootCert } = tlsParameters(pick('sslmode'), pick('sslrootcert'))
  return {
    host,
    port: portText === undefined ? DEFAULT_PORT : port(portText),
    user: pick('user'),
    password: pick('password'),
    database: pick('dbname'),
    applicationName: pick('application_name') ?? pick('fallback_application_name'),
    sslMode,
    sslRootCert,
    connectTimeoutSeconds: connectTimeout(pick('connect_timeout')),
    options: pick('options'),
  }
}

/** True when the settings name a unix socket directory rather than a TCP host. */
export function isUnixSocket(settings: Pick<ConnectionSettings, 'host'>): boolean {
  return settings.host.startsWith('/')
}

/** The server's socket file in a socket directory, as PostgreSQL names it. */
export function socketPath(settings: Pick<ConnectionSettings, 'host' | 'port'>): string {
  return `${settings.host.replace(/\/+$/, '')}/.s.PGSQL.${settings.port}`
}

function tlsParameters(mode: string | undefined, rootCert: string | undefined): { sslMode: SslMode; sslRootCert: string | undefined } {
  if (mode !== undefined && !isSslMode(mode)) {
    throw new PgToBrokersError('pg_tls_config', `unknown sslmode "${mode}" in the PostgreSQL URL: use ${SSL_MODES.join(', ')}`)
  }
  // libpq 16: the system's roots verify fully by default, and a weaker mode with them is refused.
  if (rootCert === 'system') {
    if (mode !== undefined && mode !== 'verify-full') {
      throw new PgToBrokersError(
        'pg_tls_config',
        `sslmode "${mode}" may not be used with sslrootcert=system: use sslmode=verify-full (or give a CA file as sslrootcert)`,
      )
    }
    return { sslMode: 'verify-full', sslRootCert: rootCert }
  }
  return { sslMode: mode ?? 'prefer', sslRootCert: rootCert }
}

function isSslMode(text: string): text is SslMode {
  return (SSL_MODES as readonly string[]).includes(text)
}

function port(text: string): number {
  const value = /^\d{1,5}$/.test(text) ? Number(text) : 0
  if (value < 1 || value > 65535) {
    throw configError('the port is not a number from 1 to 65535 (if the password holds "/", "@", ":" or "?", percent-encode them)')
  }
  return value
}

function connectTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (!/^-?\d+$/.test(text)) throw configError('connect_timeout is not a whole number of seconds')
  const seconds = Number(text)
  // As libpq: zero or less waits forever, and one second is raised to two.
  return seconds <= 0 ? 0 : Math.max(seconds, 2)
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text
}
