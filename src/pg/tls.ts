/**
 * @module TLS to PostgreSQL as libpq does it, from the settings' sslmode and sslrootcert, turned
 * into postgres.js's `ssl` option: disable, allow, prefer (the default), require (verify-ca when a
 * root certificate is at hand), verify-ca and verify-full (which refuse to start without one).
 */
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from '../runtime/tls.ts'
import { PgToBrokersError } from '../errors.ts'
import { readTextFile } from '../runtime/io.ts'
import { isUnixSocket, type ConnectionSettings, type Environment, type SslMode } from './conninfo.ts'

/** What postgres.js takes as `ssl`. */
export type DriverSsl = false | 'allow' | 'prefer' | 'require' | ConnectionOptions

/**
 * The driver's `ssl` option for these settings. The root certificate is sslrootcert, else libpq's
 * default ~/.postgresql/root.crt (HOME from `env`) when it exists; sslrootcert=system means the
 * system's trusted roots. Over a unix socket TLS is never used, as in libpq.
 * allow and prefer do not verify even when a root certificate exists (libpq would verify the
 * chain once TLS is up; postgres.js can fall back to plain text only without verification).
 * @throws PgToBrokersError 'pg_tls_config' for an unreadable sslrootcert, or verify-ca/verify-full without a root certificate.
 */
export async function tlsSettings(settings: ConnectionSettings, env: Environment = {}): Promise<DriverSsl> {
  const mode = settings.sslMode
  if (isUnixSocket(settings) || mode === 'disable') return false
  if (mode === 'allow' || mode === 'prefer') return mode
  const root = await rootCertificate(settings, env)
  if (mode === 'require' && root === undefined) return 'require'
  // As in libpq: require with a root certificate verifies the chain, like verify-ca.
  const effective: SslMode = mode === 'require' ? 'verify-ca' : mode
  if (root === undefined) throw missingRootCertificate(effective, defaultRootCertPath(env))
  const host = settings.host
  return {
    rejectUnauthorized: true,
    ...(root === 'system' ? {} : { ca: root.pem }),
    // verify-ca checks the chain only; verify-full also the host name (or IP) against the certificate.
    checkServerIdentity: (_name: string, cert: PeerCertificate) => (effective === 'verify-full' ? checkServerIdentity(host, cert) : undefined),
  }
}

type RootCertificate = 'system' | { readonly pem: string }

async function rootCertificate(settings: ConnectionSettings, env: Environment): Promise<RootCertificate | undefined> {
  if (settings.sslRootCert === 'system') return 'system'
  if (settings.sslRootCert !== undefined) return { pem: await readCa(settings.sslRootCert) }
  const fallback = defaultRootCertPath(env)
  if (fallback === undefined) return undefined
  try {
    return { pem: await readTextFile(fallback) }
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined
    throw new PgToBrokersError(
      'pg_tls_config',
      `cannot read the root certificate file ${fallback} (${(error as Error).message}): fix its permissions, or set sslrootcert`,
    )
  }
}

/** libpq's default root certificate file: ~/.postgresql/root.crt (%APPDATA%\postgresql\root.crt on Windows). */
function defaultRootCertPath(env: Environment): string | undefined {
  if (env['HOME']) return `${env['HOME']}/.postgresql/root.crt`
  if (env['APPDATA']) return `${env['APPDATA']}\\postgresql\\root.crt`
  return undefined
}

function missingRootCertificate(mode: SslMode, path: string | undefined): PgToBrokersError {
  const file =
    path === undefined
      ? 'no root certificate file is configured (sslrootcert is not set and HOME is unknown)'
      : `root certificate file "${path}" does not exist`
  return new PgToBrokersError(
    'pg_tls_config',
    `sslmode=${mode} needs a root certificate to verify the server, but ${file}: either provide the file, ` +
      `set sslrootcert to the CA certificate (PEM), use the system's trusted roots with sslrootcert=system, ` +
      `or change sslmode to disable server certificate verification`,
  )
}

async function readCa(path: string): Promise<string> {
  try {
    return await readTextFile(path)
  } catch (error) {
    const reason = (error as { code?: string }).code === 'ENOENT' ? 'no such file' : (error as Error).message
    throw new PgToBrokersError(
      'pg_tls_config',
      `cannot read sslrootcert ${path} (${reason}): give the path of the CA certificate (PEM) that signed the server's certificate`,
    )
  }
}
