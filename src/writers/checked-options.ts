/** @module Checks a writer's constructor options against the schema its config section uses too. */
import * as v from 'valibot'
import { describeIssues } from '../fields.ts'
import { PgToBrokersError, type ErrorCode } from '../errors.ts'

/**
 * The options as `schema` reads them (defaults filled in, unknown keys dropped).
 * @throws PgToBrokersError with `code`, naming every bad option: `${writer}: key: problem; …`.
 */
export function checkedOptions<S extends v.GenericSchema>(
  schema: S,
  options: unknown,
  writer: string,
  code: ErrorCode,
  secretPaths: readonly string[] = [],
): v.InferOutput<S> {
  const result = v.safeParse(schema, options)
  if (result.success) return result.output
  // The schema's wording for a missing key tells a CLI user where to set it; a caller just needs to pass it.
  const issues = result.issues.map((issue) => (issue.input === undefined ? { ...issue, message: 'required' } : issue))
  throw new PgToBrokersError(code, `${writer}: ${describeIssues(issues, new Set(secretPaths)).join('; ')}`)
}

/** A problem across options: the option it is reported at, what is wrong, and whether that option is missing. */
export interface OptionProblem {
  readonly key: string
  readonly problem: string
  readonly missing?: true
}
