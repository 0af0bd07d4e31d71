/** @module The text forms flags and environment variables share: lists, numbers and booleans. */

/** Splits "a, b" into ["a", "b"]; commas inside double-quoted identifiers stay. Empty text means an empty list. */
export function splitList(text: string): string[] {
  const items: string[] = []
  let current = ''
  let quoted = false
  for (const ch of text) {
    if (ch === '"') quoted = !quoted
    if (ch === ',' && !quoted) {
      items.push(current)
      current = ''
    } else current += ch
  }
  items.push(current)
  return items.map((item) => item.trim()).filter((item) => item !== '')
}

/** Decimal text becomes a number; anything else stays text so the schema can report it as given. */
export function numberFromText(text: string): number | string {
  return /^\s*[+-]?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : text
}

/** true/false/1/0 (any case); undefined for anything else. */
export function booleanFromText(text: string): boolean | undefined {
  const word = text.trim().toLowerCase()
  return word === 'true' || word === '1' ? true : word === 'false' || word === '0' ? false : undefined
}
