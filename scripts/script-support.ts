/** @module What the broker scripts' small clients (kafka-client.ts, kinesis-client.ts) share: arguments, the arrival check, and how they fail. */
import process from 'node:process'

/** A positive whole number from the command line, or `fallback` when it is not given. */
export function positive(text: string | undefined, what: string, fallback: number): number {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a whole number of at least 1, not "${text}"`)
  return n
}

/** @throws when fewer than `count` of what was awaited arrived in time, with the usual causes. */
export function requireArrived(seen: number, count: number, what: string, where: string, timeoutMs: number): void {
  if (seen >= count) return
  throw new Error(
    `${seen} of ${count} ${what} arrived in ${where} within ${timeoutMs / 1000} s: is pg-to-brokers running, ` +
      `and did the change happen after it said "streaming"?`,
  )
}

/** Runs the script's main; a failure is one line on stderr, prefixed with the script's name, and exit status 1. */
export function runScript(name: string, main: (args: string[]) => Promise<void>): void {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${name}: error: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  })
}
