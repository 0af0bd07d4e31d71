// Log lines: text as before, JSON with time, level and message that no field can replace.
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import { jsonLine, textLine } from '../../src/cli/log.ts'

const TIME = '2026-01-02T03:04:05.678Z'

test('log format: a JSON line holds time, level, message, then each defined field as its own key', () => {
  const line = jsonLine(TIME, 'warn', 'connection lost; reconnecting', { reason: 'read ECONNRESET', retryInMs: 250, standby: false, skipped: undefined })
  assertEquals(JSON.parse(line), {
    time: TIME,
    level: 'warn',
    message: 'connection lost; reconnecting',
    reason: 'read ECONNRESET',
    retryInMs: 250,
    standby: false,
  })
  assertEquals(Object.keys(JSON.parse(line)), ['time', 'level', 'message', 'reason', 'retryInMs', 'standby'])
  assertEquals(line.includes('\n'), false)
})

test('log format: fields named time, level or message never replace them; odd keys and values stay plain data', () => {
  // JSON.parse makes "__proto__" an own key, as a field name from outside could be.
  const fields = Object.assign(JSON.parse('{"time": "x", "level": "debug", "message": "other", "__proto__": "p"}'), { rate: Number.NaN, text: 'a\nb "c"' })
  const parsed = JSON.parse(jsonLine(TIME, 'info', 'the event', fields))
  assertEquals([parsed.time, parsed.level, parsed.message], [TIME, 'info', 'the event'])
  assertEquals([parsed.field_time, parsed.field_level, parsed.field_message], ['x', 'debug', 'other'])
  assertEquals(Object.hasOwn(parsed, '__proto__'), true)
  assertEquals([parsed.rate, parsed.text], ['NaN', 'a\nb "c"'])
})

test('log format: the text line is unchanged: time level message key=value, quoting values with spaces, quotes or =', () => {
  assertEquals(
    textLine(TIME, 'info', 'streaming', { slot: 's1', note: 'a b', eq: 'x=y', n: 3, gone: undefined }),
    `${TIME} info streaming slot=s1 note="a b" eq="x=y" n=3`,
  )
})
