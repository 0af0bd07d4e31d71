/**
 * @module Conversions from the server's temporal text (DateStyle=ISO, TimeZone=UTC) to ISO 8601.
 * Microseconds are kept as sent. 'infinity', '-infinity' and BC values have no ISO 8601 form that
 * consumers agree on, so they pass through as the server's text.
 */

const PLUS = 0x2b
const MINUS = 0x2d
const ZERO_OFFSET = /^[+-]00(?::00){0,2}$/

/** timestamp: '2026-11-24 23:03:37.123456' → '2026-11-24T23:03:37.123456'. */
export function isoTimestamp(text: string): string {
  const space = text.indexOf(' ')
  if (space < 0 || text.endsWith(' BC')) return text
  return `${text.slice(0, space)}T${text.slice(space + 1)}`
}

/**
 * timestamptz: '2026-11-24 23:03:37.123456+00' → '2026-11-24T23:03:37.123456Z'; a non-zero
 * offset becomes ±HH:MM ('+05:30' kept; '-08' → '-08:00'). A ±HH:MM:SS offset (historical local
 * mean time, only with a non-UTC TimeZone) is kept, since nothing shorter is exact.
 */
export function isoTimestamptz(text: string): string {
  const space = text.indexOf(' ')
  if (space < 0 || text.endsWith(' BC')) return text
  const zone = offsetStart(text, space + 1)
  const date = text.slice(0, space)
  if (zone < 0) return `${date}T${text.slice(space + 1)}`
  return `${date}T${text.slice(space + 1, zone)}${isoOffset(text.slice(zone), true)}`
}

/** timetz: '23:03:37.123456+00' → '23:03:37.123456+00:00'; ±HH:MM and ±HH:MM:SS are kept. */
export function isoTimetz(text: string): string {
  const zone = offsetStart(text, 0)
  if (zone < 0) return text
  return text.slice(0, zone) + isoOffset(text.slice(zone), false)
}

/** The offset sign is the last '+' or '-': the time of day before it has neither. */
function offsetStart(text: string, from: number): number {
  for (let i = text.length - 1; i >= from; i--) {
    const c = text.charCodeAt(i)
    if (c === PLUS || c === MINUS) return i
  }
  return -1
}

/** '+00' → 'Z' when `zulu`; '±HH' → '±HH:MM'; longer forms unchanged. */
function isoOffset(offset: string, zulu: boolean): string {
  if (zulu && (offset === '+00' || ZERO_OFFSET.test(offset))) return 'Z'
  return offset.length === 3 ? `${offset}:00` : offset
}
