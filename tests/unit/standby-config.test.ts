// The standby setting: flag, environment variable and config file, and its bad values.
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import { ConfigError, ENV, loadConfig } from '../../src/config/load.ts'

const URL = 'postgres://u:secret@127.0.0.1:5432/app'

test('config: standby is off by default; --standby, PG_TO_BROKERS_STANDBY and postgres.standby turn it on', () => {
  const standby = (sources: Partial<Parameters<typeof loadConfig>[0]>) => loadConfig({ env: { [ENV.url]: URL }, argv: [], ...sources }).postgres.standby
  assertEquals(standby({}), false)
  assertEquals(standby({ argv: ['--standby'] }), true)
  assertEquals(standby({ env: { [ENV.url]: URL, [ENV.standby]: '1' } }), true)
  assertEquals(standby({ env: { [ENV.url]: URL, [ENV.standby]: 'true' }, argv: ['--no-standby'] }), false)
  assertEquals(standby({ fileText: JSON.stringify({ postgres: { standby: true } }), filePath: 'c.json' }), true)
})

test('config: a bad standby value names the field and the variable', () => {
  const problems = (sources: Partial<Parameters<typeof loadConfig>[0]>) => {
    try {
      loadConfig({ env: { [ENV.url]: URL }, argv: [], ...sources })
    } catch (error) {
      if (error instanceof ConfigError) return error.issues
      throw error
    }
    return []
  }
  assertEquals(problems({ env: { [ENV.url]: URL, [ENV.standby]: 'maybe' } }), [
    'postgres.standby (PG_TO_BROKERS_STANDBY): expected true, false, 1 or 0, got "maybe"',
  ])
  assertEquals(problems({ fileText: JSON.stringify({ postgres: { standby: 'yes' } }), filePath: 'c.json' }), [
    'postgres.standby: expected true or false, got "yes"',
  ])
})
