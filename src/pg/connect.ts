/** @module Opens one dedicated postgres.js connection with the settings both of our connections share. */
import postgres from 'postgres'
import { environment } from '../runtime/io.ts'
import { isUnixSocket, parseConnectionSettings, socketPath, type ConnectionSettings } from './conninfo.ts'
import { tlsSettings } from './tls.ts'

/**
 * The settings a connection string means here: the text as libpq reads it, with the PG*
 * environment variables of this process filling its gaps.
 * @throws PgToBrokersError 'pg_config' or 'pg_tls_config' (see parseConnectionSettings).
 */
export function connectionSettings(text: string): ConnectionSettings {
  return parseConnectionSettings(text, environment())
}

/**
 * One connection (or `max`), never recycled while streaming, no type fetching (our decoders choose
 * by OID themselves), notices ignored. `connection` adds startup parameters; `applicationName`
 * is used unless the settings name one. The driver gets an options object, never the URL, so no
 * URL parameter reaches the server as a setting. TLS follows sslmode and sslrootcert (see tls.ts).
 * @throws PgToBrokersError 'pg_tls_config' for bad TLS settings.
 */
export async function openConnection(
  settings: ConnectionSettings,
  connectTimeoutMs: number,
  applicationName: string,
  connection: Readonly<Record<string, string>> = {},
  max = 1,
): Promise<postgres.Sql> {
  const ssl = await tlsSettings(settings, environment())
  const socket = isUnixSocket(settings)
  // Arrays, because postgres.js cuts a host string at ":" (an IPv6 address); its types narrow host to a string.
  const address = { host: [settings.host], port: [settings.port] } as unknown as { host: string; port: number }
  return postgres({
    ...address,
    // postgres.js connects `path` as given: the socket file itself, not its directory.
    ...(socket ? { path: socketPath(settings) } : {}),
    ...(settings.user === undefined ? {} : { user: settings.user }),
    ...(settings.password === undefined ? {} : { pass: settings.password }),
    ...(settings.database === undefined ? {} : { database: settings.database }),
    ssl,
    max,
    fetch_types: false,
    idle_timeout: 0,
    max_lifetime: null,
    connect_timeout: settings.connectTimeoutSeconds ?? Math.ceil(connectTimeoutMs / 1000),
    onnotice: () => {},
    connection: {
      application_name: settings.applicationName ?? applicationName,
      ...(settings.options === undefined ? {} : { options: settings.options }),
      ...connection,
    },
  })
}
