/** @module Log sequence numbers: bigint inside, "X/Y" (hex high/low 32 bits) at the edges. */
import type { Lsn } from './pgoutput/messages.ts'

export type { Lsn }

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

/** Parses "16/B374D848". Throws on anything else. */
export function parseLsn(text: string): Lsn {
  const match = LSN_TEXT.exec(text)
  if (!match) throw new Error(`invalid LSN "${text}": expected two hexadecimal numbers like "16/B374D848"`)
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

/** Formats an LSN the way PostgreSQL shows it: "16/B374D848". */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
}
