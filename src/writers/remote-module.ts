/** @module Tells a remote writer module (fetched from the network or a package registry at start) from a local file. */

/** Specifier schemes whose code comes from elsewhere each time the tool starts. */
const REMOTE_SCHEME = /^(https?|npm|jsr):/i

/** True for an `http:`, `https:`, `npm:` or `jsr:` specifier: code the tool would fetch and run. */
export function isRemoteModule(pathOrUrl: string): boolean {
  return REMOTE_SCHEME.test(pathOrUrl.trim())
}

/** Why a remote module needs consent, and how to give it (for messages). */
export const REMOTE_MODULE_CONSENT =
  "its code is fetched and run with this process's rights (the database credentials included) at every start, " +
  'so whoever controls that address controls the tool; ' +
  'pass --allow-remote-writer-module (or set writer.allowRemote: true, or PG_TO_BROKERS_ALLOW_REMOTE_WRITER_MODULE=true) to run it anyway, or use a local file'
