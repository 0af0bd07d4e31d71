/**
 * @module MD5 from the runtime's native hash (`node:crypto`, which Node, Deno 2 and Bun all
 * provide): Web Crypto (crypto.subtle) has no MD5, and the Kinesis formats need it. Not for security.
 */
import { createHash } from 'node:crypto'

/** The 16-byte MD5 digest (RFC 1321) of `bytes`. */
export function md5(bytes: Uint8Array): Uint8Array {
  const digest = createHash('md5').update(bytes).digest()
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
}

/**
 * The MD5 digest of a string's UTF-8 bytes as 32 lower-case hex digits. Hashing the string and
 * hex-encoding natively is 2-3 times faster per short key than encoding either in JavaScript.
 */
export function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex')
}
