/**
 * @module The one place that touches the host runtime: stdout/stderr, files, signals, env, exit.
 * Uses `node:` built-ins, which Node, Deno 2 and Bun all provide.
 */
import process from 'node:process'
import { open, readFile, type FileHandle } from 'node:fs/promises'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

/** Writes to stdout; resolves once the runtime has handed the bytes to the OS. */
export function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (error) => (error ? reject(error) : resolve()))
  })
}

export function writeStderr(text: string): void {
  process.stderr.write(text)
}

/** An append-only file that can be forced to disk. */
export interface AppendFile {
  append(text: string): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}

export async function openAppendFile(path: string): Promise<AppendFile> {
  const handle: FileHandle = await open(path, 'a')
  return {
    append: async (text) => void (await handle.write(text)),
    sync: () => handle.sync(),
    close: () => handle.close(),
  }
}

export function readTextFile(path: string): Promise<string> {
  return readFile(path, 'utf8')
}

export function environment(): Record<string, string | undefined> {
  return process.env
}

export function commandLine(): string[] {
  return process.argv.slice(2)
}

/** Calls `handler` on SIGINT or SIGTERM; a second signal exits at once. */
export function onShutdownSignal(handler: (signal: string) => void): void {
  let received = false
  const listener = (signal: string) => {
    if (received) process.exit(130)
    received = true
    handler(signal)
  }
  process.on('SIGINT', listener)
  process.on('SIGTERM', listener)
}

export function exit(code: number): never {
  process.exit(code)
}

/** Sets the exit code without ending the process (pending writes still flush). */
export function setExitCode(code: number): void {
  process.exitCode = code
}

/** A file path (relative to the working directory) or URL, as an import() specifier. */
export function moduleSpecifier(pathOrUrl: string): string {
  if (/^(file|https?|npm|jsr):/.test(pathOrUrl)) return pathOrUrl
  return pathToFileURL(resolve(pathOrUrl)).href
}
