/** @module Turns driver and server errors into specific messages that never carry the connection password. */
import { PgToBrokersError } from '../errors.ts'

interface DriverError {
  code?: string
  message?: string
  address?: string
  port?: number
  detail?: string
  hint?: string
}

/** Where a connection was going, without credentials: "127.0.0.1:5432" or the socket path. */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url)
    const host = parsed.searchParams.get('host') ?? (parsed.hostname || 'localhost')
    return `${host}:${parsed.port || '5432'}`
  } catch {
    return 'the configured server'
  }
}

/** Maps a postgres.js or server error to a PgToBrokersError with an actionable message. */
export function explainConnectionError(error: unknown, url: string, user: string): PgToBrokersError {
  if (error instanceof PgToBrokersError) return error
  const e = (error ?? {}) as DriverError
  const target = describeTarget(url)
  const message = redact(String(e.message ?? error), url)
  // The server answered the SSLRequest with "N" and the driver went on with the handshake anyway.
  if (/before secure TLS connection was established/.test(message)) {
    return new PgToBrokersError('pg_tls_failed', `PostgreSQL at ${target} does not accept TLS (the connection closed during the TLS handshake): enable ssl on the server, or set sslmode=disable or sslmode=prefer in the URL`, { cause: error })
  }
  switch (e.code) {
    case 'ECONNREFUSED':
      return new PgToBrokersError('pg_unreachable', `cannot connect to PostgreSQL at ${target}: connection refused (is the server running and listening there?)`, { cause: error })
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new PgToBrokersError('pg_unreachable', `cannot connect to PostgreSQL at ${target}: host name not found`, { cause: error })
    case 'CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return new PgToBrokersError('pg_unreachable', `cannot connect to PostgreSQL at ${target}: connection timed out`, { cause: error })
    case 'ENOENT':
      return new PgToBrokersError('pg_unreachable', `cannot connect to PostgreSQL at ${target}: no unix socket there`, { cause: error })
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
      return new PgToBrokersError('pg_tls_failed', `cannot verify the TLS certificate of PostgreSQL at ${target} (${e.code}): set sslrootcert in the URL to the CA certificate that signed the server's certificate`, { cause: error })
    case 'CERT_HAS_EXPIRED':
      return new PgToBrokersError('pg_tls_failed', `the TLS certificate of PostgreSQL at ${target} has expired`, { cause: error })
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return new PgToBrokersError('pg_tls_failed', `the TLS certificate of PostgreSQL at ${target} is not for that host name: ${message} (connect by a name the certificate lists, or use sslmode=verify-ca)`, { cause: error })
    case '28P01':
      return new PgToBrokersError('pg_auth_failed', `password authentication failed for user "${user}" at ${target}: check the password in the PostgreSQL URL`, { cause: error })
    case '28000':
      if (/replication|walsender/i.test(message)) return missingReplicationRole(user, error)
      return new PgToBrokersError('pg_auth_failed', `PostgreSQL at ${target} refused user "${user}": ${message}`, { cause: error })
    case '3D000':
      return new PgToBrokersError('pg_no_database', `${message} at ${target}`, { cause: error })
    case '42501':
      return new PgToBrokersError('pg_permission_denied', `permission denied for user "${user}": ${message}`, { cause: error })
    default:
      return new PgToBrokersError('pg_error', `PostgreSQL error${e.code ? ` ${e.code}` : ''} at ${target}: ${message}${e.detail ? ` (${e.detail})` : ''}`, { cause: error })
  }
}

export function missingReplicationRole(user: string, cause?: unknown): PgToBrokersError {
  return new PgToBrokersError(
    'pg_no_replication_role',
    `role "${user}" may not start logical replication: grant it with ALTER ROLE "${user}" WITH REPLICATION (or connect as a role that has it)`,
    { cause },
  )
}

/** Removes the URL and its password from a message, whatever the driver put in it. */
export function redact(message: string, url: string): string {
  let out = message.replaceAll(url, '<postgres url>')
  try {
    const password = decodeURIComponent(new URL(url).password)
    if (password) out = out.replaceAll(password, '***')
  } catch { /* not a URL: nothing to redact beyond the raw text */ }
  return out
}
