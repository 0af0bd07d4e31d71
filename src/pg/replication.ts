/** @module A logical replication connection over postgres.js: START_REPLICATION, CopyData in, StandbyStatusUpdate out. */
import type postgres from 'postgres'
import { connectionSettings, openConnection } from './connect.ts'
import { isUnixSocket } from './conninfo.ts'
import { readPacer, type ReadPacer } from './read-pacing.ts'
import { formatLsn, type Lsn } from './lsn.ts'
import { standbyStatusUpdate } from './replication-frames.ts'
import { quoteIdent, quoteLiteral } from './identifiers.ts'
import { describeTarget, explainConnectionError } from './errors.ts'
import { PgToBrokersError } from '../errors.ts'
import { afterIo } from '../runtime/timers.ts'

/** Session settings that fix the server's text output format for every value we decode. */
export const OUTPUT_SETTINGS: Readonly<Record<string, string>> = {
  DateStyle: 'ISO',
  IntervalStyle: 'iso_8601',
  TimeZone: 'UTC',
  extra_float_digits: '3',
  bytea_output: 'hex',
}

export interface StartOptions {
  readonly slot: string
  readonly publication: string
  /** 0n lets the server resume from the slot's confirmed flush LSN. */
  readonly startLsn: Lsn
  readonly protoVersion: 1 | 2
  /** Streaming of in-progress transactions (protocol 2): PostgreSQL 14 and later. */
  readonly streaming: boolean
  /** Logical decoding messages (pg_logical_emit_message): PostgreSQL 14 and later. */
  readonly messages: boolean
}

/** The part of the driver's CopyBoth stream this module uses. */
interface CopyBothStream {
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  on(event: 'close' | 'end', listener: () => void): unknown
  readonly readableLength: number
  write(chunk: Uint8Array): boolean
  end(): unknown
  /**
   * postgres.js hands each CopyData payload to the stream through `push` (null at CopyDone) and
   * pauses its socket when `push` returns false; `_read` is what resumes the socket.
   */
  push(chunk: Uint8Array | null): boolean
  _read(size: number): void
}

/** The first server_version_num whose pgoutput knows protocol 2 and the `streaming` and `messages` options. */
const PGOUTPUT_V2_SERVER_VERSION = 140000

/**
 * One replication connection. Reads arrive as arrays of raw CopyData payloads, so that the
 * consumer wakes once per socket read rather than once per message.
 */
export class ReplicationConnection {
  readonly #sql: postgres.Sql
  readonly #url: string
  readonly #user: string
  #serverVersion = 0
  #stream: CopyBothStream | undefined
  #buffered: Uint8Array[] = []
  #pacer: ReadPacer
  #wake: (() => void) | undefined
  #wakeScheduled = false
  #failure: Error | undefined
  #ended = false

  private constructor(sql: postgres.Sql, url: string, user: string) {
    this.#sql = sql
    this.#url = url
    this.#user = user
    this.#pacer = readPacer('unix', () => this.#resumeSocket())
  }

  /** Opens a connection in replication=database mode. @throws PgToBrokersError when it cannot. */
  static async open(url: string, connectTimeoutMs: number): Promise<ReplicationConnection> {
    const settings = connectionSettings(url)
    const sql = await openConnection(settings, connectTimeoutMs, 'pg_to_brokers', { replication: 'database', ...OUTPUT_SETTINGS })
    const user = sql.options.user
    const connection = new ReplicationConnection(sql, url, user)
    try {
      await sql.unsafe('IDENTIFY_SYSTEM')
      const [row] = await sql.unsafe<{ server_version_num: string }[]>('SHOW server_version_num')
      connection.#serverVersion = Number(row?.server_version_num)
      // With sslmode prefer (the default) only the server's answer tells whether TLS is in use.
      const [tls] = await sql.unsafe<{ ssl: boolean }[]>('select ssl from pg_stat_ssl where pid = pg_backend_pid()')
      const transport = isUnixSocket(settings) ? 'unix' : tls?.ssl === true ? 'tls' : 'tcp'
      connection.#pacer = readPacer(transport, () => connection.#resumeSocket())
    } catch (error) {
      await sql.end({ timeout: 0 }).catch(() => {})
      throw explainConnectionError(error, settings, user)
    }
    return connection
  }

  /** The server's server_version_num (e.g. 150008), read when the connection opened. */
  get serverVersion(): number {
    return this.#serverVersion
  }

  /**
   * Creates a logical slot using pgoutput and exports the snapshot it starts from: until this
   * connection runs another command or closes, other sessions can read the database exactly as of
   * the slot's first change (SET TRANSACTION SNAPSHOT), so a copy plus the stream misses nothing.
   * A temporary slot goes away with the connection.
   */
  async createSlotExportingSnapshot(slot: string, temporary: boolean): Promise<{ lsn: string; snapshotName: string }> {
    const command = `CREATE_REPLICATION_SLOT ${quoteIdent(slot)}${temporary ? ' TEMPORARY' : ''} LOGICAL pgoutput EXPORT_SNAPSHOT`
    const [row] = await this.#sql.unsafe<{ consistent_point: string; snapshot_name: string }[]>(command)
    return { lsn: row!.consistent_point, snapshotName: row!.snapshot_name }
  }

  /**
   * Sends START_REPLICATION and begins buffering CopyData.
   * @throws PgToBrokersError (an option the server lacks, slot in use, …).
   */
  async start(options: StartOptions): Promise<void> {
    const command = startReplicationCommand(options, this.#serverVersion)
    try {
      this.#stream = (await this.#sql.unsafe(command).writable()) as unknown as CopyBothStream
    } catch (error) {
      throw explainStartError(error, options, this.#url, this.#user)
    }
    const stream = this.#stream
    // Payloads the driver pushed before this point wait in the Readable side, in order; later ones
    // are taken at `push` while it is empty, where each costs one array append (through the
    // Readable side each would also be buffered and emitted as a 'data' event: as much CPU as
    // decoding it). While anything waits there, `push` goes through it, so the order holds.
    stream.on('data', (chunk: Uint8Array) => this.#receive(chunk))
    const push = stream.push.bind(stream)
    stream.push = (chunk) => {
      if (chunk === null || stream.readableLength > 0) return push(chunk) // null: CopyDone ends the stream
      return this.#receive(chunk)
    }
    stream.on('error', (error) => {
      this.#failure ??= explainConnectionError(error, this.#url, this.#user)
      this.#notify()
    })
    const ended = () => {
      this.#ended = true
      this.#notify()
    }
    stream.on('end', ended)
    stream.on('close', ended)
  }

  /**
   * Yields every CopyData payload received so far, in arrival order, as one array per wake-up.
   * Returns when `signal` aborts; throws when the connection fails or the server ends the copy.
   */
  async *messages(signal?: AbortSignal): AsyncGenerator<Uint8Array[]> {
    for (;;) {
      if (signal?.aborted) return
      if (this.#buffered.length > 0) {
        const batch = this.#buffered
        this.#buffered = []
        this.#pacer.drained()
        yield batch
        continue
      }
      if (this.#failure) throw this.#failure
      if (this.#ended) throw new PgToBrokersError('pg_stream_ended', 'PostgreSQL ended the replication stream (server shutdown or connection lost)')
      await new Promise<void>((resolve) => (this.#wake = resolve))
    }
  }

  /**
   * Resumes the driver's paused socket. Once the connection is gone the driver has no socket left
   * (its `_read` would throw a TypeError); the buffered messages are still handed out, then the failure.
   */
  #resumeSocket(): void {
    if (this.#failure || this.#ended) return
    try {
      this.#stream?._read(0)
    } catch (error) {
      this.#failure ??= new PgToBrokersError(
        'pg_connection_lost',
        `lost the connection to PostgreSQL at ${describeTarget(this.#url)}: the driver closed its socket`,
        { cause: error },
      )
    }
  }

  /** Wakes a pending `messages()` reader (used on shutdown so it can observe an abort). */
  interrupt(): void {
    this.#notify()
  }

  /** Sends a StandbyStatusUpdate. `flushed` is what the slot may confirm; never more than was delivered. */
  sendStatus(received: Lsn, flushed: Lsn, replyRequested = false): void {
    if (!this.#stream || this.#ended) return
    this.#stream.write(standbyStatusUpdate(received, flushed, replyRequested))
  }

  /** Ends the copy (CopyDone) and closes the connection. */
  async close(): Promise<void> {
    const stream = this.#stream
    if (stream && !this.#ended) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000)
        stream.on('close', () => (clearTimeout(timer), resolve()))
        stream.end()
      })
    }
    await this.#sql.end({ timeout: 1 }).catch(() => {})
  }

  /** Keeps a payload; false asks the driver to pause its socket after this read (see read-pacing.ts). */
  #receive(chunk: Uint8Array): boolean {
    this.#buffered.push(chunk)
    if (this.#pacer.wakeAfterIo) this.#wakeAfterIo()
    else this.#notify()
    return this.#pacer.received(chunk.byteLength, this.#buffered.length)
  }

  /** Wakes the reader once the I/O being delivered now is handled (see ReadPacer.wakeAfterIo). */
  #wakeAfterIo(): void {
    if (this.#wakeScheduled) return
    this.#wakeScheduled = true
    afterIo(() => {
      this.#wakeScheduled = false
      this.#notify()
    })
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }
}

/**
 * Refuses pgoutput options the server does not have, naming the setting to change: a server
 * before PostgreSQL 14 would fail START_REPLICATION with an unrecognized parameter.
 * @throws PgToBrokersError 'messages_unsupported' or 'streaming_unsupported'.
 */
export function checkServerSupports(options: Pick<StartOptions, 'protoVersion' | 'streaming' | 'messages'>, serverVersion: number): void {
  if (serverVersion >= PGOUTPUT_V2_SERVER_VERSION) return
  const server = `this server is PostgreSQL ${formatServerVersion(serverVersion)}`
  if (options.messages) {
    throw new PgToBrokersError(
      'messages_unsupported',
      `postgres.messagePrefixes asks for logical decoding messages, which PostgreSQL 14 and later send; ${server}: remove messagePrefixes, ` +
        `or upgrade the server`,
    )
  }
  if (options.streaming || options.protoVersion > 1) {
    throw new PgToBrokersError(
      'streaming_unsupported',
      `streaming of in-progress transactions needs PostgreSQL 14 or later; ${server}: set postgres.streaming to "auto" or "off"`,
    )
  }
}

/** The START_REPLICATION command for pgoutput, with only the options this server version has. @throws as checkServerSupports. */
export function startReplicationCommand(options: StartOptions, serverVersion: number): string {
  checkServerSupports(options, serverVersion)
  const params = [`proto_version ${quoteLiteral(String(options.protoVersion))}`, `publication_names ${quoteLiteral(quoteIdent(options.publication))}`]
  if (options.messages) params.push(`messages 'true'`)
  if (options.streaming) params.push(`streaming 'on'`)
  return `START_REPLICATION SLOT ${quoteIdent(options.slot)} LOGICAL ${formatLsn(options.startLsn)} (${params.join(', ')})`
}

/** 130023 → "13.23"; 90624 → "9.6.24" (the numbering before PostgreSQL 10). */
function formatServerVersion(versionNum: number): string {
  const major = Math.floor(versionNum / 10000)
  if (major >= 10) return `${major}.${versionNum % 10000}`
  return `${major}.${Math.floor(versionNum / 100) % 100}.${versionNum % 100}`
}

function explainStartError(error: unknown, options: StartOptions, url: string, user: string): PgToBrokersError {
  const e = error as { code?: string; message?: string }
  if (e.code === '55006') {
    const pid = /PID (\d+)/.exec(e.message ?? '')?.[1]
    return new PgToBrokersError(
      'slot_in_use',
      `replication slot "${options.slot}" is in use by another process${pid ? ` (PID ${pid})` : ''}: stop that consumer, or use another slot`,
      { cause: error },
    )
  }
  if (e.code === '42704' && /publication/i.test(e.message ?? '')) {
    return new PgToBrokersError('publication_missing', `publication "${options.publication}" does not exist: create it, or enable createPublication`, {
      cause: error,
    })
  }
  if (e.code === '42704') {
    return new PgToBrokersError('slot_missing', `replication slot "${options.slot}" does not exist: create it, or enable createSlot`, { cause: error })
  }
  return explainConnectionError(error, url, user)
}
