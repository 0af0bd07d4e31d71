/** @module The configuration problems a load reports, for the config tests. */
import { assertEquals, AssertionError } from '../assert.ts'
import { ConfigError } from '../../src/config/load.ts'

/** The issues of the ConfigError that `load` throws; fails when it throws none. */
export function configIssues(load: () => unknown): string[] {
  try {
    load()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    assertEquals(error.message, error.issues.join('\n'), 'message joins the issues')
    return [...error.issues]
  }
  throw new AssertionError('expected a ConfigError')
}
