/** @module The one error class the tool raises for problems a user can fix; the CLI prints its message and exits non-zero. */

/**
 * A failure with a message that says what went wrong and what to do. `code` is stable and meant
 * for programs (tests, supervisors); the message is for people and never carries secrets.
 */
export class PgToBrokersError extends Error {
  override name = 'PgToBrokersError'
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}
