/** @module A tiny test runner that behaves the same on Node, Deno and Bun. */

export type TestFn = () => void | Promise<void>

interface TestCase {
  readonly name: string
  readonly fn: TestFn
  readonly file: string
}

const registered: TestCase[] = []
let currentFile = ''

/** Registers a test. Tests run one after another, in registration order. */
export function test(name: string, fn: TestFn): void {
  registered.push({ name, fn, file: currentFile })
}

/** Imports each test module (registering its tests) and runs them; returns the failure count. */
export async function runTests(files: readonly string[], filter?: string): Promise<number> {
  for (const file of files) {
    currentFile = file
    await import(file)
  }
  const selected = filter ? registered.filter((t) => `${t.file} ${t.name}`.includes(filter)) : registered
  let passed = 0
  let failed = 0
  for (const t of selected) {
    const started = performance.now()
    try {
      await t.fn()
      passed++
      console.log(`ok   ${t.name} (${Math.round(performance.now() - started)} ms)`)
    } catch (error) {
      failed++
      console.log(`FAIL ${t.name}\n     ${formatError(error)}`)
    }
  }
  console.log(`${passed} passed, ${failed} failed`)
  return failed
}

function formatError(error: unknown): string {
  if (error instanceof Error) return (error.stack ?? error.message).split('\n').slice(0, 8).join('\n     ')
  return String(error)
}
