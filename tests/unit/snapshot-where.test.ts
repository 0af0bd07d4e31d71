/** A snapshot's WHERE: what may stand inside its parentheses, read as PostgreSQL's lexer reads it. */
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import { escapeFromParentheses, whereCondition } from '../../src/snapshot/where.ts'

test('snapshot WHERE: parentheses inside strings, quoted names, dollar quotes and comments do not count', () => {
  const fine = [
    'id > 3',
    "a = ')' and b = '('",
    "a = 'it''s )'",
    "a = E'\\')' and b = e'\\\\'",
    'a = $$)$$ and b = $q$ $$ ) $q$',
    '"we)ird" = 1 and "x""(" = 2',
    'a = 1 /* ) /* nested ( */ still ) */ and (b = 2)',
    'a = 1 -- )',
    "x$y = 1 and date '2024-01-01' < d and B'101' = b and X'ff' = x and N'n' = n and U&'\\0041' = u",
    'f(a, (b)) and $1 is null',
  ]
  for (const where of fine) assertEquals(escapeFromParentheses(where), undefined, where)
})

test('snapshot WHERE: a condition that could reach past its parentheses is refused', () => {
  const refused: [string, RegExp][] = [
    ['true) union (select 1 where (true', /closes more/],
    ['1=1); drop table x; --', /closes more/],
    ['true; drop table x', /";"/],
    ['(true', /not closed/],
    ["a = 'open", /not closed/],
    ['a = "open', /not closed/],
    ['a = $q$open', /not closed/],
    ['a = 1 /* open /* */', /not closed/],
    // PostgreSQL reads xE'…' as a name and a plain string, 1E'…' as a number and an escape string.
    ["xE'\\' ) union (select 1 --'", /runs into a string/],
    ["1E'\\' ) --'", /runs into a string/],
    ['1$a$ ) $a$', /runs into a "\$"/],
  ]
  for (const [where, why] of refused) {
    const reason = escapeFromParentheses(where)
    assertEquals(reason !== undefined && why.test(reason), true, `${where}: ${reason}`)
  }
})

test('snapshot WHERE: the condition is wrapped in parentheses, the closing one on a new line, so a trailing comment ends before it', () => {
  assertEquals(whereCondition('a = 1 -- note'), '(a = 1 -- note\n)')
})
