/** @module Opens one dedicated postgres.js connection with the settings both of our connections share. */
import postgres from 'postgres'

/**
 * One connection (max 1), never recycled while streaming, no type fetching (our decoders choose
 * by OID themselves), notices ignored. `connection` adds startup parameters.
 */
export function openConnection(url: string, connectTimeoutMs: number, connection: Readonly<Record<string, string>>): postgres.Sql {
  return postgres(url, {
    max: 1,
    fetch_types: false,
    idle_timeout: 0,
    max_lifetime: null,
    connect_timeout: Math.ceil(connectTimeoutMs / 1000),
    onnotice: () => {},
    connection,
  })
}
