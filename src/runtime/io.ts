/**
 * @module The one place that touches the host runtime: stdout/stderr, files, signals, env, exit.
 * Uses `node:` built-ins, which Node, Deno 2 and Bun all provide.
 */
import { Buffer } from 'node:buffer'
import process from 'node:process'
import { chmod, lstat, mkdtemp, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises'
import { homedir, hostname, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

/**
 * Writes to stdout; resolves once the runtime has handed the bytes to the OS (a reader that dies
 * after that loses them). Rejects when the output is closed (isBrokenPipe tells that case).
 */
export function writeStdout(output: string | Uint8Array): Promise<void> {
  // The stream also emits the failure as an 'error' event, which would crash the process with a
  // stack trace if nobody listened: the rejection below is how the failure is reported.
  if (!process.stdout.listeners('error').includes(ignoreStdoutError)) process.stdout.on('error', ignoreStdoutError)
  return new Promise((resolve, reject) => {
    try {
      process.stdout.write(output, (error) => (error ? reject(error) : resolve()))
    } catch (error) {
      reject(error)
    }
  })
}

/** Stdout's 'error' listener: the failure reaches the caller through writeStdout's rejection. */
function ignoreStdoutError(): void {}

/** True when a write failed because the reading end of the pipe or socket is gone (EPIPE). */
export function isBrokenPipe(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'EPIPE'
}

export function writeStderr(text: string): void {
  process.stderr.write(text)
}

/** True when stderr is a terminal (a person watching), false for a pipe, a file or a log collector. */
export function stderrIsTerminal(): boolean {
  return process.stderr.isTTY === true
}

/** An append-only file that can be forced to disk. */
export interface AppendFile {
  append(output: string | Uint8Array): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}

/**
 * Opens `path` for appending lines. A last line without its newline is what a crash left of an
 * append (an acknowledged append ends with its newline): it is cut off, so the next append starts
 * a line of its own instead of gluing a record onto the fragment. A new file is created readable
 * by this user only (0600; an existing file keeps its mode), and its directory is fsynced once, so
 * the file's name survives a power loss along with the data later fsynced into it.
 */
export async function openAppendFile(path: string): Promise<AppendFile> {
  const { handle, created } = await openOrCreate(path)
  try {
    if (created) await syncDirectory(dirname(resolve(path)))
    await truncateUnterminatedLine(handle)
  } catch (error) {
    await handle.close().catch(() => {})
    throw error
  }
  const encoder = new TextEncoder()
  return {
    // One write may be short (e.g. a full disk); an append only resolves once every byte is written.
    append: async (output) => {
      const bytes = typeof output === 'string' ? encoder.encode(output) : output
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

/** Opens `path` for reading and appending, creating it with mode 0600 if it does not exist. */
async function openOrCreate(path: string): Promise<{ handle: FileHandle; created: boolean }> {
  try {
    return { handle: await open(path, 'ax+', 0o600), created: true }
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error
    return { handle: await open(path, 'a+'), created: false }
  }
}

/** Forces a directory's entries (a file just created in it) to disk. */
async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, 'r')
  try {
    await directory.sync()
  } finally {
    await directory.close()
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

/** Standard base64 (RFC 4648) of bytes, by the runtime's native encoder (btoa is several times slower on Node 20). */
export function base64(bytes: Uint8Array): string {
  return bufferView(bytes).toString('base64')
}

/** The same bytes as a Node `Buffer`, without a copy: for client libraries that take only Buffers. */
export function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** The user's home directory (where ~/.aws lives); '' when the runtime cannot tell. */
export function homeDirectory(): string {
  try {
    return homedir()
  } catch {
    return ''
  }
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

/**
 * `import()` of a module named at run time (a writer module). An executable made by `deno compile`
 * can import only the modules embedded at compile time, and data: URLs: there a file is read and
 * imported as a data: URL, so it must be JavaScript importing only node: built-ins (README, "Distribution").
 */
export async function importModule(specifier: string): Promise<Record<string, unknown>> {
  if (!isDenoExecutable() || !specifier.startsWith('file:')) return (await import(specifier)) as Record<string, unknown>
  return await importAsDataUrl(specifier)
}

/** Imports a JavaScript file through a data: URL (what a `deno compile` executable can load; Bun cannot). */
export async function importAsDataUrl(fileUrl: string): Promise<Record<string, unknown>> {
  if (/\.(?:[cm]?ts|tsx)$/.test(new URL(fileUrl).pathname)) {
    throw new Error('a deno compile executable cannot load a TypeScript writer module: compile it to .mjs, or run the CLI with deno run or the npm package')
  }
  const source = await readFile(new URL(fileUrl), 'utf8')
  return (await import(`data:text/javascript,${encodeURIComponent(source)}`)) as Record<string, unknown>
}

function isDenoExecutable(): boolean {
  return (globalThis as { Deno?: { build?: { standalone?: boolean } } }).Deno?.build?.standalone === true
}

// ---- temporary files ---------------------------------------------------------------------------

/** The OS temporary directory (TMPDIR and the like respected). */
export function temporaryDirectory(): string {
  return tmpdir()
}

/** This process's id and host name: what tells one process's temporary directories from another's. */
export function processIdentity(): { readonly pid: number; readonly host: string } {
  let host = ''
  try {
    host = hostname()
  } catch {
    // Deno without --allow-sys: directories are still told apart by PID, on a nameless host.
  }
  return { pid: process.pid, host }
}

/**
 * False only when no process with this id exists. One owned by another user, or a check the
 * runtime does not permit (Deno without --allow-run), counts as alive: never delete on a guess.
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code !== 'ESRCH'
  }
}

/**
 * Creates a new directory `<parent>/<prefix>XXXXXX` (random suffix, never an existing one) that
 * only this user can enter. @throws when `parent` is missing or not writable.
 */
export async function createPrivateDirectory(parent: string, prefix: string): Promise<string> {
  const path = await mkdtemp(join(parent, prefix))
  await chmod(path, 0o700) // mkdtemp already uses 0700 on Node; the other runtimes are not bound to it
  return path
}

/**
 * Names in `parent` that start with `prefix` and are real directories (not symlinks) owned by this
 * user: the only kind of entry it is safe to delete on the strength of its name.
 */
export async function ownDirectoriesIn(parent: string, prefix: string): Promise<string[]> {
  const uid = process.getuid?.()
  const names = (await readdir(parent)).filter((name) => name.startsWith(prefix))
  const owned: string[] = []
  for (const name of names) {
    const stats = await lstat(join(parent, name)).catch(() => undefined)
    if (stats?.isDirectory() && (uid === undefined || stats.uid === uid)) owned.push(name)
  }
  return owned
}

/** Deletes a file or a directory tree; a missing one is not an error. */
export async function removePath(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true })
}

/** `name` inside directory `parent`, with the platform's separator. */
export function childPath(parent: string, name: string): string {
  return join(parent, name)
}

/** A binary file read and written at explicit positions or appended to. */
export interface BinaryFile {
  /** Writes every byte (looping over short writes). */
  write(bytes: Uint8Array): Promise<void>
  /** Reads up to `into.length` bytes at `position`; resolves with the count (0 at the end). */
  read(into: Uint8Array, position: number): Promise<number>
  close(): Promise<void>
}

/**
 * Opens `path`: 'create' makes a new file readable by this user only (failing if it exists),
 * 'append' adds to an existing one, 'read' only reads. @throws the runtime's error when it cannot.
 */
export async function openBinaryFile(path: string, mode: 'create' | 'append' | 'read'): Promise<BinaryFile> {
  const handle: FileHandle = await open(path, mode === 'create' ? 'wx' : mode === 'append' ? 'a' : 'r', 0o600)
  return {
    write: async (bytes) => {
      for (let offset = 0; offset < bytes.length; ) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset)
        if (bytesWritten <= 0) throw new Error(`write to ${path} made no progress`)
        offset += bytesWritten
      }
    },
    read: async (into, position) => (await handle.read(into, 0, into.length, position)).bytesRead,
    close: () => handle.close(),
  }
}
