/**
 * @module The runtime's TLS helpers and option types (`node:tls`, which Node, Deno 2 and Bun all
 * provide): the drivers we hand TLS options to take Node's shapes.
 */
export { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls'
