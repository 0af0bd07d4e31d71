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

/**
 * Opens `path` for appending lines. A last line without its newline is what a crash left of an
 * append (an acknowledged append ends with its newline): it is cut off, so the next append starts
 * a line of its own instead of gluing a record onto the fragment.
 */
export async function openAppendFile(path: string): Promise<AppendFile> {
  const handle: FileHandle = await open(path, 'a+')
  try {
    await truncateUnterminatedLine(handle)
  } catch (error) {
    await handle.close().catch(() => {})
    throw error
  }
  const encoder = new TextEncoder()
  return {
    // One write may be short (e.g. a full disk); an append only resolves once every byte is written.
    append: async (text) => {
      const bytes = encoder.encode(text)
      for (let offset = 0; offset < bytes.length; ) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset)
        if (bytesWritten <= 0) throw new Error(`write to ${path} made no progress`)
        offset += bytesWritten
      }
    },
    sync: () => handle.sync(),
    close: () => handle.close(),
  }
}

async function truncateUnterminatedLine(handle: FileHandle): Promise<void> {
  const { size } = await handle.stat()
  const chunk = new Uint8Array(64 * 1024)
  let end = size
  while (end > 0) {
    const start = Math.max(0, end - chunk.length)
    const { bytesRead } = await handle.read(chunk, 0, end - start, start)
    const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a)
    if (newline >= 0) {
      if (start + newline + 1 < size) await handle.truncate(start + newline + 1)
      return
    }
    end = start
  }
  if (size > 0) await handle.truncate(0)
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
