/**
 * @module TLS to PostgreSQL from the URL's `sslmode` and `sslrootcert`, as libpq reads them:
 * disable, allow, prefer, require (verify-ca when sslrootcert is given), verify-ca, verify-full.
 * postgres.js treats any sslmode text as "use TLS" (even "disable") and verifies only against the
 * system CAs, so both parameters are taken out of the URL and turned into its `ssl` option here.
 */
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from '../runtime/tls.ts'
import { PgToBrokersError } from '../errors.ts'
import { readTextFile } from '../runtime/io.ts'

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
export type SslMode = (typeof SSL_MODES)[number]

/** What postgres.js takes as `ssl`. */
export type DriverSsl = false | 'allow' | 'prefer' | 'require' | ConnectionOptions

/** The URL without sslmode/sslrootcert, and the `ssl` option for postgres.js. */
export interface TlsSettings {
  readonly url: string
  readonly ssl: DriverSsl
}

/**
 * Reads sslmode and sslrootcert from the URL (the CA file through the runtime's file API).
 * @throws PgToBrokersError 'pg_tls_config' for an unknown sslmode or an unreadable CA file.
 */
export async function tlsSettings(url: string): Promise<TlsSettings> {
  if (!URL.canParse(url)) return { url, ssl: false }
  const parsed = new URL(url)
  const mode = parsed.searchParams.get('sslmode') ?? undefined
  const rootCert = parsed.searchParams.get('sslrootcert') ?? undefined
  if (mode === undefined && rootCert === undefined) return { url, ssl: false }
  parsed.searchParams.delete('sslmode')
  parsed.searchParams.delete('sslrootcert')
  const stripped = parsed.href
  if (mode !== undefined && !(SSL_MODES as readonly string[]).includes(mode)) {
    throw new PgToBrokersError('pg_tls_config', `unknown sslmode "${mode}" in the PostgreSQL URL: use ${SSL_MODES.join(', ')}`)
  }
  // As in libpq: require with a root certificate verifies the CA; a root certificate alone means verify-full.
  const effective: SslMode = mode === undefined ? 'verify-full' : mode === 'require' && rootCert !== undefined ? 'verify-ca' : (mode as SslMode)
  if (effective === 'disable') return { url: stripped, ssl: false }
  if (effective !== 'verify-ca' && effective !== 'verify-full') return { url: stripped, ssl: effective }
  const ca = rootCert === undefined || rootCert === 'system' ? undefined : await readCa(rootCert)
  const host = parsed.hostname.replace(/^\[|\]$/g, '')
  return {
    url: stripped,
    ssl: {
      rejectUnauthorized: true,
      ...(ca === undefined ? {} : { ca }),
      // verify-ca checks the chain only; verify-full also the host name (or IP) against the certificate.
      checkServerIdentity: (_name: string, cert: PeerCertificate) => (effective === 'verify-full' ? checkServerIdentity(host, cert) : undefined),
    },
  }
}

async function readCa(path: string): Promise<string> {
  try {
    return await readTextFile(path)
  } catch (error) {
    const reason = (error as { code?: string }).code === 'ENOENT' ? 'no such file' : (error as Error).message
    throw new PgToBrokersError('pg_tls_config', `cannot read sslrootcert ${path} (${reason}): give the path of the CA certificate (PEM) that signed the server's certificate`)
  }
}
