/** @module Opens one dedicated postgres.js connection with the settings both of our connections share. */
import postgres from 'postgres'
import { tlsSettings } from './tls.ts'

/**
 * One connection (max 1), never recycled while streaming, no type fetching (our decoders choose
 * by OID themselves), notices ignored. `connection` adds startup parameters. TLS follows the URL's
 * sslmode and sslrootcert (see tls.ts). @throws PgToBrokersError 'pg_tls_config' for bad TLS settings.
 */
export async function openConnection(url: string, connectTimeoutMs: number, connection: Readonly<Record<string, string>>): Promise<postgres.Sql> {
  const tls = await tlsSettings(url)
  return postgres(tls.url, {
    ssl: tls.ssl,
    max: 1,
    fetch_types: false,
    idle_timeout: 0,
    max_lifetime: null,
    connect_timeout: Math.ceil(connectTimeoutMs / 1000),
    onnotice: () => {},
    connection,
  })
}
