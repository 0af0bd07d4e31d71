/** @module A snapshot's WHERE as it goes into SQL text: one condition that cannot reach past its parentheses. */

/**
 * The condition in parentheses, ended by a newline so a trailing `--` comment cannot swallow the
 * closing one. The snapshot's check and every chunk's query use this one form.
 */
export function whereCondition(where: string): string {
  return `(${where}\n)`
}

/**
 * Why `where` could reach outside its parentheses, or undefined when it cannot: a `)` that closes
 * more than it opened (`true) UNION (SELECT …`), a `;`, or a string, quoted name or comment left
 * open. Strings, quoted names and comments are skipped as PostgreSQL's lexer reads them (with
 * standard_conforming_strings on), so a parenthesis inside them does not count.
 */
export function escapeFromParentheses(where: string): string | undefined {
  let depth = 0
  let at = 0
  while (at < where.length) {
    const c = where[at]!
    if (c === "'") {
      const prefix = wordBefore(where, at).toLowerCase()
      if (!['', 'e', 'b', 'x', 'n'].includes(prefix)) return 'a name or number runs into a string: put a space before the quote'
      at = stringEnd(where, at, prefix === 'e')
    } else if (c === '"') at = quotedEnd(where, at)
    else if (c === '$') {
      const word = wordBefore(where, at)
      if (/^[0-9]/.test(word)) return 'a number runs into a "$": put a space between them'
      at = word === '' ? dollarEnd(where, at) : at + 1
    } else if (c === '-' && where[at + 1] === '-') at = lineEnd(where, at)
    else if (c === '/' && where[at + 1] === '*') at = commentEnd(where, at)
    else {
      if (c === ';') return 'it holds a ";" outside a string'
      if (c === '(') depth++
      if (c === ')' && --depth < 0) return 'a ")" closes more than the condition opened'
      at++
    }
    if (at < 0) return 'a string, quoted name or comment is not closed'
  }
  return depth === 0 ? undefined : 'a "(" is not closed'
}

/** `'…'`, or `E'…'`, in which a backslash escapes the next character; -1 when not closed. */
function stringEnd(text: string, at: number, backslashEscapes: boolean): number {
  for (let i = at + 1; i < text.length; i++) {
    if (backslashEscapes && text[i] === '\\') i++
    else if (text[i] === "'") {
      if (text[i + 1] !== "'") return i + 1
      i++
    }
  }
  return -1
}

/** `"…"`, a doubled quote standing for one; -1 when not closed. */
function quotedEnd(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    if (text[i] === '"') {
      if (text[i + 1] !== '"') return i + 1
      i++
    }
  }
  return -1
}

/** `$tag$…$tag$`; a `$` that starts no such quote (a parameter `$1`) is skipped alone. */
function dollarEnd(text: string, at: number): number {
  const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(at))?.[0]
  if (tag === undefined) return at + 1
  const end = text.indexOf(tag, at + tag.length)
  return end < 0 ? -1 : end + tag.length
}

function lineEnd(text: string, at: number): number {
  const end = text.indexOf('\n', at)
  return end < 0 ? text.length : end + 1
}

/** `/* … *\/`, which nests in PostgreSQL. */
function commentEnd(text: string, at: number): number {
  let depth = 0
  for (let i = at; i < text.length - 1; i++) {
    if (text[i] === '/' && text[i + 1] === '*') {
      depth++
      i++
    } else if (text[i] === '*' && text[i + 1] === '/') {
      i++
      if (--depth === 0) return i + 1
    }
  }
  return -1
}

/**
 * The name or number that ends just before `at`. PostgreSQL reads `E'…'` as a string with
 * backslash escapes but `xE'…'` as a name and a plain string, and `1$a$` as a number and a dollar
 * quote: only the unambiguous forms are let through.
 */
function wordBefore(text: string, at: number): string {
  let start = at
  while (start > 0 && /[A-Za-z0-9_$\u0080-\uffff]/.test(text[start - 1]!)) start--
  return text.slice(start, at)
}
