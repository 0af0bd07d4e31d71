/**
 * @module Spool files: the raw pgoutput messages of one streamed transaction, each framed as a
 * UInt32 (big-endian) length followed by that many bytes, written and read in bounded pieces.
 */
import { openBinaryFile, type BinaryFile } from '../../runtime/io.ts'
import { PgToBrokersError } from '../../errors.ts'

const LENGTH_BYTES = 4
/** Messages are gathered into writes of up to this size. */
const WRITE_BUFFER_BYTES = 256 * 1024
/** A spool file is read back in chunks of this size (a longer message gets a chunk of its own). */
const READ_CHUNK_BYTES = 1024 * 1024

/** One streamed transaction's spool file, as the writer sees it. */
export interface SpoolTarget {
  readonly path: string
  /** Set once the file was created: later blocks append to it. */
  created: boolean
}

/**
 * Appends framed messages to one spool file at a time, through one buffer of fixed size: memory
 * does not grow with the number or size of open streamed transactions. The server sends one
 * transaction's stream block at a time, so a block is written between `begin` and `close`. The
 * file is created at the first message: a streamed transaction that touches no published table
 * (its blocks are empty) costs no file at all.
 */
export class SpoolWriter {
  readonly #buffer = new Uint8Array(WRITE_BUFFER_BYTES)
  #used = 0
  #target: SpoolTarget | undefined
  #file: BinaryFile | undefined

  /** Directs the next messages to `target`. @throws when a block is already open. */
  begin(target: SpoolTarget): void {
    if (this.#target) throw new PgToBrokersError('spool_error', 'internal error: a spool block is already open')
    this.#target = target
  }

  /**
   * Adds one message (copied: `payload` may be a view of a buffer the caller reuses). Returns a
   * promise only when the file had to be opened or buffered messages written out first; the caller
   * awaits it before the next call (that is the backpressure). @throws when no block is open.
   */
  append(payload: Uint8Array): void | Promise<void> {
    if (!this.#file) return this.#openThenAppend(payload)
    if (this.#used + LENGTH_BYTES + payload.length > this.#buffer.length) return this.#appendAfterFlush(this.#file, payload)
    writeLength(this.#buffer, this.#used, payload.length)
    this.#buffer.set(payload, this.#used + LENGTH_BYTES)
    this.#used += LENGTH_BYTES + payload.length
  }

  /** Writes what is buffered and closes the file: the end of a stream block. */
  async close(): Promise<void> {
    const file = this.#file
    this.#target = undefined
    this.#file = undefined
    if (!file) return
    try {
      await this.#flush(file)
    } finally {
      this.#used = 0
      await file.close()
    }
  }

  async #openThenAppend(payload: Uint8Array): Promise<void> {
    const target = this.#target
    if (!target) throw new PgToBrokersError('spool_error', 'internal error: spool message outside a stream block')
    this.#file = await openBinaryFile(target.path, target.created ? 'append' : 'create')
    target.created = true
    return this.append(payload)
  }

  async #appendAfterFlush(file: BinaryFile, payload: Uint8Array): Promise<void> {
    await this.#flush(file)
    if (LENGTH_BYTES + payload.length <= this.#buffer.length) return this.append(payload)
    // Larger than the buffer: its frame goes to the file as it is, not through a buffer of its size.
    const header = new Uint8Array(LENGTH_BYTES)
    writeLength(header, 0, payload.length)
    await file.write(header)
    await file.write(payload)
  }

  async #flush(file: BinaryFile): Promise<void> {
    if (this.#used === 0) return
    await file.write(this.#buffer.subarray(0, this.#used))
    this.#used = 0
  }
}

/**
 * Calls `onFrame` with each message of the spool file at `path`, in order, awaiting it when it
 * returns a promise (so a slow consumer slows the reading). The file is read in chunks of about a
 * megabyte; each message is a view of a chunk of its own that is never reused, so the consumer may
 * keep it. Resolves true at the end of the file, false when `signal` aborted the reading first.
 * @throws PgToBrokersError when the file ends inside a message (the spool is damaged), or on I/O errors.
 */
export async function readFrames(path: string, onFrame: (frame: Uint8Array) => void | Promise<void>, signal?: AbortSignal): Promise<boolean> {
  const file = await openBinaryFile(path, 'read')
  try {
    const reader = new ChunkReader(file, path)
    for (;;) {
      if (signal?.aborted) return false
      // Within a chunk no await is needed: most messages cost no promise at all.
      const header = reader.next(LENGTH_BYTES) ?? (await reader.take(LENGTH_BYTES))
      if (header === undefined) return true
      const length = readLength(header)
      const frame = reader.next(length) ?? (await reader.take(length, true))
      const pending = onFrame(frame!)
      if (pending) await pending
    }
  } finally {
    await file.close()
  }
}

/** Hands out consecutive byte runs of a file, refilling a fresh chunk whenever the current one runs out. */
class ChunkReader {
  readonly #file: BinaryFile
  readonly #path: string
  #chunk = new Uint8Array(0)
  #at = 0
  #position = 0

  constructor(file: BinaryFile, path: string) {
    this.#file = file
    this.#path = path
  }

  /** The next `n` bytes when the current chunk holds them; undefined when it does not (then call `take`). */
  next(n: number): Uint8Array | undefined {
    if (this.#chunk.length - this.#at < n) return undefined
    const run = this.#chunk.subarray(this.#at, this.#at + n)
    this.#at += n
    return run
  }

  /** The next `n` bytes, reading on as needed; undefined at a clean end of file. @throws when the file ends inside them (or `required` and nothing is left). */
  async take(n: number, required = false): Promise<Uint8Array | undefined> {
    if (this.#chunk.length - this.#at < n) await this.#refill(n)
    const available = this.#chunk.length - this.#at
    if (available === 0 && n > 0 && !required) return undefined
    if (available < n) {
      throw new PgToBrokersError(
        'spool_damaged',
        `spool file ${this.#path} ends inside a message (${available} of ${n} bytes at offset ${this.#position - available})`,
      )
    }
    const run = this.#chunk.subarray(this.#at, this.#at + n)
    this.#at += n
    return run
  }

  /** Moves the unread rest into a new chunk (never overwriting one handed out) and reads until `n` bytes are there or the file ends. */
  async #refill(n: number): Promise<void> {
    const rest = this.#chunk.subarray(this.#at)
    const chunk = new Uint8Array(Math.max(READ_CHUNK_BYTES, n))
    chunk.set(rest)
    let filled = rest.length
    while (filled < n) {
      const read = await this.#file.read(chunk.subarray(filled), this.#position)
      if (read === 0) break
      filled += read
      this.#position += read
    }
    this.#chunk = chunk.subarray(0, filled)
    this.#at = 0
  }
}

function writeLength(into: Uint8Array, at: number, length: number): void {
  into[at] = length >>> 24
  into[at + 1] = (length >>> 16) & 0xff
  into[at + 2] = (length >>> 8) & 0xff
  into[at + 3] = length & 0xff
}

function readLength(bytes: Uint8Array): number {
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0
}
