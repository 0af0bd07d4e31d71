/**
 * @module Decodes pgoutput payloads (logical replication protocol versions 1 and 2, as of
 * PostgreSQL 15) into the message types of `messages.ts`, per the "Logical Replication
 * Message Formats" chapter of the PostgreSQL documentation.
 */
import { ByteReader, DecodeError } from './byte-reader.ts'
import {
  BEGIN,
  COMMIT,
  ORIGIN,
  RELATION,
  TYPE,
  INSERT,
  UPDATE,
  DELETE,
  TRUNCATE,
  MESSAGE,
  STREAM_START,
  STREAM_STOP,
  STREAM_COMMIT,
  STREAM_ABORT,
  TUPLE_KEY,
  TUPLE_OLD,
  TUPLE_NEW,
  TRUNCATE_CASCADE,
  TRUNCATE_RESTART_IDENTITY,
  MESSAGE_TRANSACTIONAL,
  COLUMN_FLAG_KEY,
} from './tags.ts'
import {
  type BeginMessage,
  type CommitMessage,
  type DeleteMessage,
  type InsertMessage,
  type LogicalMessage,
  type OriginMessage,
  type PgoutputMessage,
  type RelationColumn,
  type RelationMessage,
  type StreamAbortMessage,
  type StreamCommitMessage,
  type StreamStartMessage,
  type StreamStopMessage,
  type TruncateMessage,
  type TypeMessage,
  type UpdateMessage,
} from './messages.ts'
import { Tuple } from './tuple.ts'

export { DecodeError }

// Message and sub-message tags (Byte1), as char codes.
/**
 * Decodes one pgoutput payload at a time. Stateful only to track whether it is between
 * Stream Start and Stream Stop, where Relation, Type, Insert, Update, Delete, Truncate and
 * Message carry a leading xid (set as `streamXid`). Use one decoder per replication
 * connection, in server order; call `reset` when a connection is replaced.
 *
 * Binary column values ('b') and Message content are views into the payload, not copies:
 * the caller must not overwrite that buffer while the decoded message is in use.
 */
export class PgoutputDecoder {
  private readonly reader = new ByteReader()
  private inStream: boolean

  /**
   * `inStream: true` starts inside a stream block, so every data message is read with its xid:
   * for decoding messages spooled from stream blocks (see change/streamed/replay.ts).
   */
  constructor(options: { readonly inStream?: boolean } = {}) {
    this.inStream = options.inStream ?? false
  }

  /** True between a Stream Start and its Stream Stop. */
  get streaming(): boolean {
    return this.inStream
  }

  /** Forgets any open stream block, e.g. after reconnecting mid-stream. */
  reset(): void {
    this.inStream = false
  }

  /**
   * Decodes one complete payload (the data of one XLogData message).
   * Throws `DecodeError` on an unknown tag, a truncated or malformed payload, or trailing bytes.
   */
  decode(bytes: Uint8Array, start = 0): PgoutputMessage {
    const r = this.reader
    r.reset(bytes, start)
    const message = this.decodeTagged(r, r.u8())
    if (r.remaining !== 0) {
      // Trailing bytes mean the framing was misread (e.g. a streamed xid expected or not): fail loudly.
      throw new DecodeError(`${message.tag} message has ${r.remaining} unexpected trailing bytes at offset ${r.offset}`, r.offset)
    }
    return message
  }

  private decodeTagged(r: ByteReader, tag: number): PgoutputMessage {
    switch (tag) {
      case BEGIN:
        return readBegin(r)
      case COMMIT:
        return readCommit(r)
      case ORIGIN:
        return readOrigin(r)
      case RELATION:
        return readRelation(r, this.streamXid(r))
      case TYPE:
        return readType(r, this.streamXid(r))
      case INSERT:
        return readInsert(r, this.streamXid(r))
      case UPDATE:
        return readUpdate(r, this.streamXid(r))
      case DELETE:
        return readDelete(r, this.streamXid(r))
      case TRUNCATE:
        return readTruncate(r, this.streamXid(r))
      case MESSAGE:
        return readMessage(r, this.streamXid(r))
      case STREAM_START: {
        const message = readStreamStart(r)
        this.inStream = true
        return message
      }
      case STREAM_STOP:
        this.inStream = false
        return STREAM_STOP_MESSAGE
      case STREAM_COMMIT:
        return readStreamCommit(r)
      case STREAM_ABORT:
        return readStreamAbort(r)
      default: {
        const at = r.offset - 1
        throw new DecodeError(`unknown pgoutput message tag 0x${hex(tag)} at offset ${at}`, at)
      }
    }
  }

  /** The leading Int32 xid that data messages carry only inside a stream block. */
  private streamXid(r: ByteReader): number | undefined {
    return this.inStream ? r.u32() : undefined
  }
}

/** Stream Stop has no fields, so one frozen instance serves every occurrence. */
const STREAM_STOP_MESSAGE: StreamStopMessage = Object.freeze({ tag: 'StreamStop' })

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0')
}

/** Sets `streamXid` only when present: with exactOptionalPropertyTypes it must be absent, not undefined. */
function inStream<T extends { readonly streamXid?: number }>(message: T, xid: number | undefined): T {
  if (xid !== undefined) (message as { streamXid?: number }).streamXid = xid
  return message
}

function readBegin(r: ByteReader): BeginMessage {
  const finalLsn = r.u64()
  const commitTime = r.i64()
  return { tag: 'Begin', finalLsn, commitTime, xid: r.u32() }
}

function readCommit(r: ByteReader): CommitMessage {
  const flags = r.u8()
  const commitLsn = r.u64()
  const endLsn = r.u64()
  return { tag: 'Commit', flags, commitLsn, endLsn, commitTime: r.i64() }
}

function readOrigin(r: ByteReader): OriginMessage {
  const lsn = r.u64()
  return { tag: 'Origin', lsn, name: r.cstring() }
}

function readRelation(r: ByteReader, xid: number | undefined): RelationMessage {
  const relationOid = r.u32()
  const namespace = r.cstring()
  const relationName = r.cstring()
  const replicaIdentity = String.fromCharCode(r.u8())
  const count = readCount(r, 'column')
  const columns: RelationColumn[] = []
  for (let i = 0; i < count; i++) {
    const flags = r.u8()
    const name = r.cstring()
    const typeOid = r.u32()
    columns.push({ isKey: (flags & COLUMN_FLAG_KEY) !== 0, name, typeOid, typeModifier: r.i32() })
  }
  return inStream<RelationMessage>({ tag: 'Relation', relationOid, namespace, relationName, replicaIdentity, columns }, xid)
}

function readType(r: ByteReader, xid: number | undefined): TypeMessage {
  const typeOid = r.u32()
  const namespace = r.cstring()
  return inStream<TypeMessage>({ tag: 'Type', typeOid, namespace, typeName: r.cstring() }, xid)
}

function readInsert(r: ByteReader, xid: number | undefined): InsertMessage {
  const relationOid = r.u32()
  expectNewTuple(r, r.u8())
  return inStream<InsertMessage>({ tag: 'Insert', relationOid, newTuple: readTuple(r) }, xid)
}

function readUpdate(r: ByteReader, xid: number | undefined): UpdateMessage {
  const relationOid = r.u32()
  const kind = r.u8()
  if (kind === TUPLE_KEY || kind === TUPLE_OLD) {
    const oldTuple = readTuple(r)
    expectNewTuple(r, r.u8())
    const oldKind = kind === TUPLE_KEY ? 'K' : 'O'
    return inStream<UpdateMessage>({ tag: 'Update', relationOid, oldKind, oldTuple, newTuple: readTuple(r) }, xid)
  }
  expectNewTuple(r, kind)
  return inStream<UpdateMessage>({ tag: 'Update', relationOid, newTuple: readTuple(r) }, xid)
}

function readDelete(r: ByteReader, xid: number | undefined): DeleteMessage {
  const relationOid = r.u32()
  const kind = r.u8()
  if (kind !== TUPLE_KEY && kind !== TUPLE_OLD) {
    const at = r.offset - 1
    throw new DecodeError(`Delete: expected 'K' or 'O' at offset ${at}, got 0x${hex(kind)}`, at)
  }
  const oldKind = kind === TUPLE_KEY ? 'K' : 'O'
  return inStream<DeleteMessage>({ tag: 'Delete', relationOid, oldKind, oldTuple: readTuple(r) }, xid)
}

function readTruncate(r: ByteReader, xid: number | undefined): TruncateMessage {
  const count = r.i32()
  if (count < 0) throw new DecodeError(`Truncate: negative relation count ${count} at offset ${r.offset - 4}`, r.offset - 4)
  const options = r.u8()
  const relationOids: number[] = []
  for (let i = 0; i < count; i++) relationOids.push(r.u32())
  const cascade = (options & TRUNCATE_CASCADE) !== 0
  const restartIdentity = (options & TRUNCATE_RESTART_IDENTITY) !== 0
  return inStream<TruncateMessage>({ tag: 'Truncate', cascade, restartIdentity, relationOids }, xid)
}

function readMessage(r: ByteReader, xid: number | undefined): LogicalMessage {
  const transactional = (r.u8() & MESSAGE_TRANSACTIONAL) !== 0
  const lsn = r.u64()
  const prefix = r.cstring()
  const content = r.bytes(readLength(r, 'Message content'))
  return inStream<LogicalMessage>({ tag: 'Message', transactional, lsn, prefix, content }, xid)
}

function readStreamStart(r: ByteReader): StreamStartMessage {
  const xid = r.u32()
  return { tag: 'StreamStart', xid, firstSegment: r.u8() === 1 }
}

function readStreamCommit(r: ByteReader): StreamCommitMessage {
  const xid = r.u32()
  const flags = r.u8()
  const commitLsn = r.u64()
  const endLsn = r.u64()
  return { tag: 'StreamCommit', xid, flags, commitLsn, endLsn, commitTime: r.i64() }
}

function readStreamAbort(r: ByteReader): StreamAbortMessage {
  const xid = r.u32()
  return { tag: 'StreamAbort', xid, subXid: r.u32() }
}

function expectNewTuple(r: ByteReader, kind: number): void {
  if (kind !== TUPLE_NEW) {
    const at = r.offset - 1
    throw new DecodeError(`expected new tuple 'N' at offset ${at}, got 0x${hex(kind)}`, at)
  }
}

/** Reads TupleData, keeping its values as bytes (see `Tuple`). */
function readTuple(r: ByteReader): Tuple {
  const { tuple, end } = Tuple.read(r.array, r.position, r.position - r.offset)
  r.seek(end)
  return tuple
}

/** Int16 count; negative means a misread, never a real count. */
function readCount(r: ByteReader, what: string): number {
  const count = r.i16()
  if (count < 0) throw new DecodeError(`negative ${what} count ${count} at offset ${r.offset - 2}`, r.offset - 2)
  return count
}

/** Int32 length; negative means a misread, never a real length. */
function readLength(r: ByteReader, what: string): number {
  const length = r.i32()
  if (length < 0) throw new DecodeError(`negative ${what} length ${length} at offset ${r.offset - 4}`, r.offset - 4)
  return length
}
