/** @module Quoting of SQL identifiers and literals: every name that reaches SQL text passes through here. */

/** Quotes an identifier for SQL text: `my "table"` → `"my ""table"""`. Rejects NUL, which SQL cannot carry. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('an SQL identifier cannot contain a NUL character')
  return `"${name.replaceAll('"', '""')}"`
}

/** Quotes a string literal for SQL text (standard_conforming_strings is always on since PostgreSQL 9.1). */
export function quoteLiteral(text: string): string {
  if (text.includes('\0')) throw new Error('an SQL literal cannot contain a NUL character')
  return `'${text.replaceAll("'", "''")}'`
}

export interface QualifiedName {
  readonly schema: string
  readonly name: string
}

/**
 * Parses `table`, `schema.table`, or their double-quoted forms (`"My Schema"."My.Table"`) the way
 * PostgreSQL does: unquoted parts fold to lower case, quoted parts are kept as written.
 * @throws Error naming the input when it is not one or two identifiers separated by a dot.
 */
export function parseQualifiedName(text: string, defaultSchema = 'public'): QualifiedName {
  const parts: string[] = []
  let i = 0
  while (i < text.length) {
    if (text[i] === '"') {
      let part = ''
      i++
      for (;;) {
        if (i >= text.length) throw new Error(`table name ${JSON.stringify(text)} has an unterminated quote`)
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"'
            i += 2
            continue
          }
          i++
          break
        }
        part += text[i++]
      }
      parts.push(part)
    } else {
      const end = text.indexOf('.', i)
      const raw = (end < 0 ? text.slice(i) : text.slice(i, end)).trim()
      if (raw === '' || raw.includes('"')) throw new Error(`table name ${JSON.stringify(text)} is not "table" or "schema.table"`)
      parts.push(raw.toLowerCase())
      i = end < 0 ? text.length : end
    }
    if (i < text.length) {
      if (text[i] !== '.') throw new Error(`table name ${JSON.stringify(text)} is not "table" or "schema.table"`)
      i++
      if (i === text.length) throw new Error(`table name ${JSON.stringify(text)} ends with a dot`)
    }
  }
  if (parts.length === 1) return { schema: defaultSchema, name: parts[0]! }
  if (parts.length === 2) return { schema: parts[0]!, name: parts[1]! }
  throw new Error(`table name ${JSON.stringify(text)} is not "table" or "schema.table"`)
}

/** `schema.table`, each part quoted. */
export function quoteQualifiedName(name: QualifiedName): string {
  return `${quoteIdent(name.schema)}.${quoteIdent(name.name)}`
}
