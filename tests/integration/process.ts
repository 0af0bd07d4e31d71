/**
 * @module Spawning test fixtures as separate processes on the runtime the suite runs on
 * (Node via tsx, Deno, Bun), killing them by PID, waiting for their exit, collecting their output.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import process from 'node:process'
import { fileURLToPath } from 'node:url'

export type Runtime = 'node' | 'deno' | 'bun'

/** The repository root: fixtures run with it as working directory (tsx, deno.json and node_modules live there). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export function currentRuntime(): Runtime {
  const g = globalThis as { Deno?: unknown; Bun?: unknown }
  if (g.Deno !== undefined) return 'deno'
  if (g.Bun !== undefined) return 'bun'
  return 'node'
}

/**
 * The command that runs a TypeScript file on the current runtime, as ONE process (so that its PID
 * is the process holding the connections: `node_modules/.bin/tsx` would fork a child node, and a
 * SIGKILL to the parent would leave that child running).
 */
export function scriptCommand(script: string): { command: string; args: string[] } {
  switch (currentRuntime()) {
    case 'deno':
      return { command: process.execPath, args: ['run', '-A', script] }
    case 'bun':
      return { command: process.execPath, args: [script] }
    case 'node':
      return { command: process.execPath, args: ['--import', 'tsx', script] }
  }
}

export interface Command {
  readonly command: string
  readonly args: readonly string[]
}

export interface ExitStatus {
  readonly code: number | null
  readonly signal: string | null
}

/** A spawned fixture process. */
export class FixtureProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Promise<ExitStatus>
  #stdout = ''
  #stderr = ''
  #exit: ExitStatus | undefined
  #listeners: (() => void)[] = []

  /** `script` is a TypeScript file run on the suite's runtime, or a command to run as is (a built artifact). */
  constructor(script: string | Command, env: Record<string, string>, scriptArgs: readonly string[] = [], cwd: string = REPO_ROOT) {
    const { command, args } = typeof script === 'string' ? scriptCommand(script) : script
    this.child = spawn(command, [...args, ...scriptArgs], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    if (this.child.pid === undefined) throw new Error(`could not spawn ${command} ${args.join(' ')}`)
    this.pid = this.child.pid
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => ((this.#stdout += chunk), this.#notify()))
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => ((this.#stderr += chunk), this.#notify()))
    this.exited = new Promise<ExitStatus>((resolve, reject) => {
      this.child.once('error', reject)
      this.child.once('close', (code, signal) => {
        this.#exit = { code, signal }
        this.#notify()
        resolve(this.#exit)
      })
    })
    this.exited.catch(() => {})
  }

  get stdout(): string {
    return this.#stdout
  }

  get stderr(): string {
    return this.#stderr
  }

  get exitStatus(): ExitStatus | undefined {
    return this.#exit
  }

  /** Resolves once stdout has a line matching `pattern`; rejects if the process exits first or on timeout. */
  waitForLine(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern} from PID ${this.pid}; stderr: ${this.#stderr.trim()}`)),
        timeoutMs,
      )
      const finish = (error: Error | undefined, line?: string) => {
        clearTimeout(timer)
        this.#listeners = this.#listeners.filter((l) => l !== check)
        if (error) reject(error)
        else resolve(line!)
      }
      const check = () => {
        const line = this.#stdout.split('\n').find((l) => pattern.test(l))
        if (line !== undefined) finish(undefined, line)
        else if (this.#exit)
          finish(new Error(`PID ${this.pid} exited (${describeExit(this.#exit)}) before printing ${pattern}; stderr: ${this.#stderr.trim()}`))
      }
      this.#listeners.push(check)
      check()
    })
  }

  /** Sends a signal to this process by its PID (no-op if it already exited). */
  signal(signal: 'SIGKILL' | 'SIGTERM' | 'SIGINT'): void {
    if (this.#exit) return
    try {
      process.kill(this.pid, signal)
    } catch (error) {
      if ((error as { code?: string }).code !== 'ESRCH') throw error
    }
  }

  /** SIGKILL by PID and wait until the process is gone. */
  async kill(): Promise<ExitStatus> {
    this.signal('SIGKILL')
    return await this.exited
  }

  /** Waits for the exit; SIGKILLs the process (and fails) if it takes longer than `timeoutMs`. */
  async waitForExit(timeoutMs = 20_000): Promise<ExitStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))
    const result = await Promise.race([this.exited, timeout])
    clearTimeout(timer)
    if (result === 'timeout') {
      await this.kill()
      throw new Error(`PID ${this.pid} did not exit within ${timeoutMs} ms (killed it); stderr: ${this.#stderr.trim()}`)
    }
    return result
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener()
  }
}

export function describeExit(status: ExitStatus): string {
  return status.signal ? `signal ${status.signal}` : `exit code ${status.code}`
}

/** Resident set size of a process in bytes, from /proc/<pid>/status (Linux); undefined once it is gone. */
export function residentBytes(pid: number | 'self'): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

export const FIXTURES = {
  streamToFile: fileURLToPath(new URL('./fixtures/stream-to-file.ts', import.meta.url)),
} as const

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
