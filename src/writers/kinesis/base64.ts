/** @module Base64 (RFC 4648) for the Data field of the Kinesis JSON API. */
import { base64 } from '../../runtime/io.ts'

type WithToBase64 = Uint8Array & { toBase64?: () => string }

/** Standard base64 with padding: Uint8Array.prototype.toBase64 where the runtime has it, else its native encoder. */
export function encodeBase64(bytes: Uint8Array): string {
  const native = (bytes as WithToBase64).toBase64
  return typeof native === 'function' ? native.call(bytes) : base64(bytes)
}

/** Decodes standard base64. @throws Error (from atob) on invalid input. */
export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}
