/** @module Turns driver and server errors into specific messages that never carry the connection password. */
import { PgToBrokersError } from '../errors.ts'
import { environment } from '../runtime/io.ts'
import { isUnixSocket, parseConnectionSettings, socketPath, type ConnectionSettings } from './conninfo.ts'

interface DriverError {
  code?: string
  message?: string
  address?: string
  port?: number
  detail?: string
  hint?: string
}

/** A connection's settings, or the connection string they come from (read with this process's environment). */
export type ConnectionTarget = ConnectionSettings | string

/** Where a connection was going, without credentials: "127.0.0.1:5432", "[::1]:5432" or the socket file. */
export function describeTarget(target: ConnectionTarget): string {
  const settings = settingsOf(target)
  if (settings === undefined) return 'the configured server'
  if (isUnixSocket(settings)) return socketPath(settings)
  return `${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${settings.port}`
}

/** Maps a postgres.js or server error to a PgToBrokersError with an actionable message. */
export function explainConnectionError(error: unknown, connection: ConnectionTarget, user: string): PgToBrokersError {
  if (error instanceof PgToBrokersError) return error
  const e = (error ?? {}) as DriverError
  const target = describeTarget(connection)
  const message = redact(String(e.message ?? error), connection)
  // The server answered the SSLRequest with "N" and the driver went on with the handshake anyway.
  if (/before secure TLS connection was established/.test(message)) {
    return new PgToBrokersError(
      'pg_tls_failed',
      `PostgreSQL at ${target} does not accept TLS (the connection closed during the TLS handshake): enable ssl on the server, ` +
        `or set sslmode=disable or sslmode=prefer in the URL`,
      { cause: error },
    )
  }
  switch (e.code) {
    case 'ECONNREFUSED':
      return new PgToBrokersError(
        'pg_unreachable',
        `cannot connect to PostgreSQL at ${target}: connection refused (is the server running and listening there?)`,
        { cause: error },
      )
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new PgToBrokersError('pg_unreachable', `cannot connect to PostgreSQL at ${target}: host name not found`, { cause: error })
    case 'CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return new PgToBrokersError('pg_unreachable', `cannot connect to PostgreSQL at ${target}: connection timed out`, { cause: error })
    case 'ENOENT':
      return new PgToBrokersError(
        'pg_unreachable',
        `cannot connect to PostgreSQL at ${target}: no unix socket there (is the server running, and is host the directory in its unix_socket_directories?)`,
        { cause: error },
      )
    case 'EACCES':
      return new PgToBrokersError(
        'pg_unreachable',
        `cannot connect to PostgreSQL at ${target}: permission denied on the unix socket (run as a user that may open it)`,
        { cause: error },
      )
    case 'ECONNRESET':
    case 'EPIPE':
    case 'CONNECTION_CLOSED':
    case 'CONNECTION_DESTROYED':
    case 'CONNECTION_ENDED':
    case '57P01':
    case '57P02':
    case '57P03':
      return new PgToBrokersError('pg_connection_lost', `lost the connection to PostgreSQL at ${target}: ${message}`, { cause: error })
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_SIGNATURE_FAILURE':
      return new PgToBrokersError(
        'pg_tls_failed',
        `cannot verify the TLS certificate of PostgreSQL at ${target} (${e.code}): set sslrootcert in the URL to the CA certificate that signed ` +
          `the server's certificate`,
        { cause: error },
      )
    case 'CERT_HAS_EXPIRED':
      return new PgToBrokersError('pg_tls_failed', `the TLS certificate of PostgreSQL at ${target} has expired`, { cause: error })
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return new PgToBrokersError(
        'pg_tls_failed',
        `the TLS certificate of PostgreSQL at ${target} is not for that host name: ${message} (connect by a name the certificate lists, ` +
          `or use sslmode=verify-ca)`,
        { cause: error },
      )
    case '28P01':
      // The server answers a wrong password and an unknown role alike, on purpose.
      return new PgToBrokersError(
        'pg_auth_failed',
        `password authentication failed for user "${user}" at ${target}: check the user name and the password (the server does not say which one is wrong)`,
        { cause: error },
      )
    case '28000':
      return explainRefusal(message, target, user, error)
    case '3D000':
      return new PgToBrokersError(
        'pg_no_database',
        `${message} at ${target}: check the database name (dbname in the URL, or PGDATABASE; without either it is the user name), or create the database`,
        { cause: error },
      )
    case '53300':
      return new PgToBrokersError(
        'pg_too_many_connections',
        `PostgreSQL at ${target} has no connection slot free (${message}): close idle sessions or raise max_connections`,
        { cause: error },
      )
    case '42501':
      return new PgToBrokersError('pg_permission_denied', `permission denied for user "${user}": ${message}`, { cause: error })
    default:
      return new PgToBrokersError('pg_error', `PostgreSQL error${e.code ? ` ${e.code}` : ''} at ${target}: ${message}${e.detail ? ` (${e.detail})` : ''}`, {
        cause: error,
      })
  }
}

/** 28000: the role is unknown (under trust or peer authentication), pg_hba.conf has no line for it, or it lacks REPLICATION. */
function explainRefusal(message: string, target: string, user: string, cause: unknown): PgToBrokersError {
  if (/^role ".*" does not exist$/.test(message)) {
    return new PgToBrokersError(
      'pg_no_role',
      `role "${user}" does not exist at ${target}: check the user name (user in the URL, or PGUSER), or create the role`,
      { cause },
    )
  }
  if (/pg_hba\.conf/.test(message)) {
    return new PgToBrokersError(
      'pg_auth_failed',
      `PostgreSQL at ${target} refused user "${user}": ${message}; add a matching line to pg_hba.conf and reload the server`,
      { cause },
    )
  }
  if (/replication|walsender/i.test(message)) return missingReplicationRole(user, cause)
  return new PgToBrokersError('pg_auth_failed', `PostgreSQL at ${target} refused user "${user}": ${message}`, { cause })
}

export function missingReplicationRole(user: string, cause?: unknown): PgToBrokersError {
  return new PgToBrokersError(
    'pg_no_replication_role',
    `role "${user}" may not start logical replication: grant it with ALTER ROLE "${user}" WITH REPLICATION (or connect as a role that has it)`,
    { cause },
  )
}

/** Removes the connection string and its password from a message, whatever the driver put in it. */
export function redact(message: string, connection: ConnectionTarget): string {
  let out = typeof connection === 'string' ? message.replaceAll(connection, '<postgres url>') : message
  const password = settingsOf(connection)?.password
  if (password) out = out.replaceAll(password, '***')
  return out
}

function settingsOf(target: ConnectionTarget): ConnectionSettings | undefined {
  if (typeof target !== 'string') return target
  try {
    return parseConnectionSettings(target, environment())
  } catch {
    return undefined // not readable: nothing more to say about where it pointed
  }
}
