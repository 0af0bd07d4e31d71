/**
 * @module The entry point for pgoutput payloads. Regular transactions go to the assembler as they
 * arrive (the server sends them whole, at commit). In-progress transactions streamed in blocks
 * (protocol 2, `streaming 'on'`) go to a spool file each, and are replayed through the assembler
 * at their Stream Commit, or deleted at their Stream Abort: so changes still leave in commit order,
 * each transaction whole, and memory does not grow with a transaction's size.
 */
import { PgToBrokersError } from '../errors.ts'
import { PgoutputDecoder } from '../pg/pgoutput/decode.ts'
import type { StreamAbortMessage, StreamCommitMessage, StreamStartMessage } from '../pg/pgoutput/messages.ts'
import { streamedMessageXid } from '../pg/pgoutput/streamed.ts'
import type { Logger } from '../logger.ts'
import { removePath } from '../runtime/io.ts'
import type { TransactionAssembler } from './assemble.ts'
import { replayStreamed } from './streamed/replay.ts'
import type { SpoolDirectory } from './streamed/spool-directory.ts'
import { SpoolWriter, type SpoolTarget } from './streamed/spool-file.ts'

/** A streamed transaction between its first Stream Start and its Stream Commit or Abort. */
interface OpenStream extends SpoolTarget {
  readonly xid: number
  /** Subtransactions rolled back (Stream Abort with subXid ≠ xid): skipped at replay. */
  readonly aborted: Set<number>
  messages: number
  bytes: number
}

/**
 * Routes each payload of one replication connection, in server order. `handle` returns a promise
 * only when the caller must wait (spool I/O, catalog look-ups, or the writer's backpressure).
 * Without a spool directory, streamed messages are a protocol error (streaming was not asked for).
 */
export class ChangeReceiver {
  readonly #decoder = new PgoutputDecoder()
  readonly #writer = new SpoolWriter()
  readonly #open = new Map<number, OpenStream>()
  readonly #assembler: TransactionAssembler
  readonly #spool: SpoolDirectory | undefined
  readonly #logger: Logger
  readonly #signal: AbortSignal | undefined
  /** The stream block being received: its data messages go to the spool. */
  #block: OpenStream | undefined

  /** `signal` stops a replay between two messages, so a clean stop need not wait for a huge transaction. */
  constructor(assembler: TransactionAssembler, spool: SpoolDirectory | undefined, logger: Logger, signal?: AbortSignal) {
    this.#assembler = assembler
    this.#spool = spool
    this.#logger = logger
    this.#signal = signal
  }

  /** True while a transaction is being assembled or any streamed one is open: nothing past it may be confirmed. */
  get inFlight(): boolean {
    return this.#assembler.inTransaction || this.#open.size > 0
  }

  /** Bytes of the streamed transactions open now, spooled to disk (for metrics). */
  get spooledBytes(): number {
    let bytes = 0
    for (const stream of this.#open.values()) bytes += stream.bytes
    return bytes
  }

  /** Streamed transactions open now (for logs and tests). */
  get openStreams(): number {
    return this.#open.size
  }

  /**
   * Handles the payload that starts at `start` of `bytes` and runs to its end.
   * @throws DecodeError or PgToBrokersError on a malformed or unexpected message, spool I/O errors, or a failed delivery.
   */
  handle(bytes: Uint8Array, start = 0): void | Promise<void> {
    const block = this.#block
    if (block) {
      const payload = bytes.subarray(start)
      if (streamedMessageXid(payload) !== undefined) {
        block.messages++
        block.bytes += payload.length
        return this.#writer.append(payload)
      }
    }
    const message = this.#decoder.decode(bytes, start)
    switch (message.tag) {
      case 'StreamStart':
        return this.#start(message)
      case 'StreamStop':
        this.#block = undefined
        return this.#writer.close()
      case 'StreamCommit':
        return this.#commit(message)
      case 'StreamAbort':
        return this.#abort(message)
      default:
        return this.#assembler.handle(message)
    }
  }

  /** Closes the spool file being written, if any. The caller removes the spool directory. */
  async close(): Promise<void> {
    this.#block = undefined
    this.#open.clear()
    await this.#writer.close().catch(() => {})
  }

  #start(message: StreamStartMessage): void {
    if (this.#block) throw protocolError(`Stream Start of transaction ${message.xid} inside the stream block of transaction ${this.#block.xid}`)
    if (!this.#spool) throw protocolError('Stream Start, but streaming of in-progress transactions was not requested on this connection')
    let stream = this.#open.get(message.xid)
    if (stream === undefined) {
      if (!message.firstSegment) throw protocolError(`Stream Start continues transaction ${message.xid}, whose first block this connection never saw`)
      stream = { xid: message.xid, path: this.#spool.fileFor(message.xid), created: false, aborted: new Set(), messages: 0, bytes: 0 }
      this.#open.set(message.xid, stream)
    } else if (message.firstSegment) {
      throw protocolError(`Stream Start marks a first block of transaction ${message.xid}, which is already open`)
    }
    this.#writer.begin(stream)
    this.#block = stream
  }

  async #commit(message: StreamCommitMessage): Promise<void> {
    const stream = this.#open.get(message.xid)
    if (!stream) throw protocolError(`Stream Commit of transaction ${message.xid}, which this connection never saw streamed`)
    if (this.#block) throw protocolError(`Stream Commit of transaction ${message.xid} inside a stream block`)
    this.#open.delete(message.xid)
    try {
      // No file: the transaction touched no published table, and replays as an empty one (which confirms its end).
      const complete = await replayStreamed(stream.created ? stream.path : undefined, stream.aborted, message, this.#assembler, this.#signal)
      this.#logger.debug(complete ? 'replayed a streamed transaction' : 'stopped replaying a streamed transaction', {
        xid: message.xid,
        messages: stream.messages,
        bytes: stream.bytes,
        abortedSubtransactions: stream.aborted.size,
      })
    } finally {
      if (stream.created) await removePath(stream.path)
    }
  }

  async #abort(message: StreamAbortMessage): Promise<void> {
    const stream = this.#open.get(message.xid)
    // The server sends Stream Abort only for transactions it streamed; one it streamed nothing of here has nothing to discard.
    if (!stream) return
    if (message.subXid !== message.xid) {
      stream.aborted.add(message.subXid)
      return
    }
    this.#open.delete(message.xid)
    if (stream.created) await removePath(stream.path)
    this.#logger.debug('discarded an aborted streamed transaction', { xid: message.xid, messages: stream.messages, bytes: stream.bytes })
  }
}

function protocolError(what: string): PgToBrokersError {
  return new PgToBrokersError('protocol_error', `pgoutput sent ${what}`)
}
