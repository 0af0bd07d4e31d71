/** @module A tiny test runner that behaves the same on Node, Deno and Bun. */

/** Given to each test: its abort signal (aborted on timeout), a way to skip, and notes for a failure. */
export interface TestContext {
  /** Aborted when the test runs out of time, so that it can stop what it started. */
  readonly signal: AbortSignal
  /** Ends the test as skipped, saying why (a missing tool, an unsupported runtime). */
  skip(reason: string): never
  /** A line printed only if the test fails (a seed, a file to look at). */
  note(line: string): void
}

export type TestFn = (t: TestContext) => void | Promise<void>

export interface TestOptions {
  /** Time the test may take before it fails; default `PG_TO_BROKERS_TEST_TIMEOUT_MS` or 120 s. */
  readonly timeoutMs?: number
}

/** What a run counted; the summary line is `N passed, N failed, N skipped`. */
export interface RunSummary {
  readonly passed: number
  readonly failed: number
  readonly skipped: number
}

/** Thrown by `skip()`: the test did not run its checks, for the reason given. */
export class SkipError extends Error {
  override name = 'SkipError'
}

/** Ends the current test as skipped, with the reason printed beside its name. */
export function skip(reason: string): never {
  throw new SkipError(reason)
}

/**
 * Adds a line to print if the current test fails; helpers call it (the seed of a scenario) without
 * being handed the test's context. Outside a test it does nothing.
 */
export function noteOnFailure(line: string): void {
  current?.notes.push(line)
}

/** Registers a test. Tests run one after another, in registration order. */
export function test(name: string, fn: TestFn, options: TestOptions = {}): void {
  registered.push({ name, fn, file: currentFile, timeoutMs: options.timeoutMs })
}

/** Imports each test module (registering its tests), runs them and prints the summary line. */
export async function runTests(files: readonly string[], filter?: string): Promise<RunSummary> {
  for (const file of files) {
    currentFile = file
    await import(file)
  }
  const selected = filter ? registered.filter((t) => `${t.file} ${t.name}`.includes(filter)) : registered
  const summary = { passed: 0, failed: 0, skipped: 0 }
  for (const t of selected) {
    const started = performance.now()
    const outcome = await runOne(t)
    const ms = Math.round(performance.now() - started)
    if (outcome.kind === 'passed') console.log(`ok   ${t.name} (${ms} ms)`)
    else if (outcome.kind === 'skipped') console.log(`skip ${t.name}: ${outcome.reason}`)
    else console.log(`FAIL ${t.name} (${ms} ms)\n     ${[outcome.message, ...outcome.notes].join('\n     ')}`)
    summary[outcome.kind]++
  }
  console.log(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`)
  return summary
}

interface TestCase {
  readonly name: string
  readonly fn: TestFn
  readonly file: string
  readonly timeoutMs: number | undefined
}

type Outcome = { kind: 'passed' } | { kind: 'skipped'; reason: string } | { kind: 'failed'; message: string; notes: string[] }

const DEFAULT_TIMEOUT_MS = 120_000
const TIMEOUT_ENV = 'PG_TO_BROKERS_TEST_TIMEOUT_MS'

const registered: TestCase[] = []
let currentFile = ''
let current: { notes: string[] } | undefined

async function runOne(t: TestCase): Promise<Outcome> {
  const timeoutMs = t.timeoutMs ?? defaultTimeoutMs()
  const controller = new AbortController()
  const state = { notes: [] as string[] }
  current = state
  const context: TestContext = { signal: controller.signal, skip, note: (line) => void state.notes.push(line) }
  let timer: ReturnType<typeof setTimeout> | undefined
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))
  // An async function, so that a synchronous throw becomes a rejection like any other.
  const running = (async () => await t.fn(context))()
  try {
    if ((await Promise.race([running, timedOut])) === 'timeout') {
      controller.abort(new Error(`test timed out after ${timeoutMs} ms`))
      // The abandoned test may still reject later; that must not become an unhandled rejection.
      running.catch(() => {})
      const hint = `give it more with test(name, fn, { timeoutMs }) or ${TIMEOUT_ENV}`
      return { kind: 'failed', message: `timed out after ${timeoutMs} ms (${hint}); going on with the next test`, notes: state.notes }
    }
    return { kind: 'passed' }
  } catch (error) {
    if (error instanceof SkipError) return { kind: 'skipped', reason: error.message }
    return { kind: 'failed', message: formatError(error), notes: state.notes }
  } finally {
    clearTimeout(timer)
    current = undefined
  }
}

/** `PG_TO_BROKERS_TEST_TIMEOUT_MS` sets the default of every test that names no timeout of its own. */
function defaultTimeoutMs(): number {
  const text = globalThis.process?.env?.[TIMEOUT_ENV]
  if (text === undefined || text === '') return DEFAULT_TIMEOUT_MS
  const ms = Number(text)
  if (!Number.isInteger(ms) || ms <= 0)
    throw new Error(`${TIMEOUT_ENV}=${JSON.stringify(text)} is not a positive whole number of milliseconds: unset it or give e.g. 300000`)
  return ms
}

function formatError(error: unknown): string {
  if (error instanceof Error) return (error.stack ?? error.message).split('\n').slice(0, 8).join('\n     ')
  return String(error)
}
