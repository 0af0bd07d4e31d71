/**
 * @module MD5 (RFC 1321). Kinesis maps a PartitionKey to a shard by the MD5 of its UTF-8 bytes, and
 * the KPL aggregated-record format ends with an MD5 checksum; Web Crypto (crypto.subtle) has no MD5.
 * Not for security: MD5 is used here only where the Kinesis formats require it.
 */

/** Per-round left-rotation amounts (RFC 1321, section 3.4). */
const SHIFTS = Int32Array.of(
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
)

/** T[i] = floor(abs(sin(i + 1)) * 2^32) (RFC 1321, section 3.4). */
const T = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0)

const encoder = new TextEncoder()

/** The 16-byte MD5 digest of `input` (a string is hashed as its UTF-8 bytes). */
export function md5(input: Uint8Array | string): Uint8Array {
  const bytes = typeof input === 'string' ? encoder.encode(input) : input
  const state = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476)
  const words = new Int32Array(16)
  // Whole blocks straight from the input; only the tail is copied, to be padded.
  const whole = bytes.length - (bytes.length % 64)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let offset = 0; offset < whole; offset += 64) {
    for (let i = 0; i < 16; i++) words[i] = view.getInt32(offset + i * 4, true)
    compress(state, words)
  }
  const tail = padTail(bytes.subarray(whole), bytes.length)
  const tailView = new DataView(tail.buffer)
  for (let offset = 0; offset < tail.length; offset += 64) {
    for (let i = 0; i < 16; i++) words[i] = tailView.getInt32(offset + i * 4, true)
    compress(state, words)
  }
  const digest = new Uint8Array(16)
  const out = new DataView(digest.buffer)
  for (let i = 0; i < 4; i++) out.setInt32(i * 4, state[i]!, true)
  return digest
}

/** The MD5 digest as 32 lower-case hex digits. */
export function md5Hex(input: Uint8Array | string): string {
  let hex = ''
  for (const byte of md5(input)) hex += HEX[byte]!
  return hex
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** The last partial block, 0x80, zeros, then the message's bit length (64-bit little-endian): one or two blocks. */
function padTail(rest: Uint8Array, totalLength: number): Uint8Array {
  const length = rest.length < 56 ? 64 : 128
  const padded = new Uint8Array(length)
  padded.set(rest)
  padded[rest.length] = 0x80
  const view = new DataView(padded.buffer)
  const bits = totalLength * 8
  view.setUint32(length - 8, bits >>> 0, true)
  view.setUint32(length - 4, Math.floor(bits / 2 ** 32), true)
  return padded
}

/** One 64-byte block through the four rounds (RFC 1321, section 3.4); no allocation per round (hot path). */
function compress(state: Int32Array, x: Int32Array): void {
  let a = state[0]!
  let b = state[1]!
  let c = state[2]!
  let d = state[3]!
  for (let i = 0; i < 64; i++) {
    let f: number
    let g: number
    if (i < 16) {
      f = (b & c) | (~b & d)
      g = i
    } else if (i < 32) {
      f = (d & b) | (~d & c)
      g = (5 * i + 1) & 15
    } else if (i < 48) {
      f = b ^ c ^ d
      g = (3 * i + 5) & 15
    } else {
      f = c ^ (b | ~d)
      g = (7 * i) & 15
    }
    const sum = (a + f + T[i]! + x[g]!) | 0
    const shift = SHIFTS[i]!
    a = d
    d = c
    c = b
    b = (b + ((sum << shift) | (sum >>> (32 - shift)))) | 0
  }
  state[0] = (state[0]! + a) | 0
  state[1] = (state[1]! + b) | 0
  state[2] = (state[2]! + c) | 0
  state[3] = (state[3]! + d) | 0
}
