/** @module The pgoutput logical replication messages (protocol versions 1 and 2), as decoded. */
import type { Tuple } from './tuple.ts'

/** A WAL position: a 64-bit unsigned integer. Shown as "X/Y" only at the edges (see `lsn.ts`). */
export type Lsn = bigint

export { Tuple, UNCHANGED_TOAST, type TupleValue } from './tuple.ts'

export interface RelationColumn {
  /** True when the column is part of the replica identity key (flag bit 1). */
  readonly isKey: boolean
  readonly name: string
  readonly typeOid: number
  readonly typeModifier: number
}

/** Common part: the transaction id is set only inside a streamed transaction (protocol 2). */
interface InStream {
  /** Xid of the streamed transaction this message belongs to, when streaming. */
  readonly streamXid?: number
}

export interface BeginMessage {
  readonly tag: 'Begin'
  /** LSN of the commit record of this transaction. */
  readonly finalLsn: Lsn
  /** Commit timestamp, microseconds since 2000-01-01 UTC. */
  readonly commitTime: bigint
  readonly xid: number
}

export interface CommitMessage {
  readonly tag: 'Commit'
  readonly flags: number
  /** LSN of the commit record. */
  readonly commitLsn: Lsn
  /** LSN just past the commit record: what a consumer confirms once the transaction is durable. */
  readonly endLsn: Lsn
  readonly commitTime: bigint
}

export interface OriginMessage {
  readonly tag: 'Origin'
  readonly lsn: Lsn
  readonly name: string
}

export interface RelationMessage extends InStream {
  readonly tag: 'Relation'
  readonly relationOid: number
  readonly namespace: string
  readonly relationName: string
  /** Replica identity setting: 'd' default, 'n' nothing, 'f' full, 'i' index. */
  readonly replicaIdentity: string
  readonly columns: readonly RelationColumn[]
}

export interface TypeMessage extends InStream {
  readonly tag: 'Type'
  readonly typeOid: number
  readonly namespace: string
  readonly typeName: string
}

export interface InsertMessage extends InStream {
  readonly tag: 'Insert'
  readonly relationOid: number
  readonly newTuple: Tuple
}

export interface UpdateMessage extends InStream {
  readonly tag: 'Update'
  readonly relationOid: number
  /** 'K' when only the old key was sent, 'O' when the whole old row was sent, absent otherwise. */
  readonly oldKind?: 'K' | 'O'
  readonly oldTuple?: Tuple
  readonly newTuple: Tuple
}

export interface DeleteMessage extends InStream {
  readonly tag: 'Delete'
  readonly relationOid: number
  readonly oldKind: 'K' | 'O'
  readonly oldTuple: Tuple
}

export interface TruncateMessage extends InStream {
  readonly tag: 'Truncate'
  readonly cascade: boolean
  readonly restartIdentity: boolean
  readonly relationOids: readonly number[]
}

export interface LogicalMessage extends InStream {
  readonly tag: 'Message'
  readonly transactional: boolean
  readonly lsn: Lsn
  readonly prefix: string
  readonly content: Uint8Array
}

export interface StreamStartMessage {
  readonly tag: 'StreamStart'
  readonly xid: number
  /** True for the first segment of this transaction. */
  readonly firstSegment: boolean
}

export interface StreamStopMessage {
  readonly tag: 'StreamStop'
}

export interface StreamCommitMessage {
  readonly tag: 'StreamCommit'
  readonly xid: number
  readonly flags: number
  readonly commitLsn: Lsn
  readonly endLsn: Lsn
  readonly commitTime: bigint
}

export interface StreamAbortMessage {
  readonly tag: 'StreamAbort'
  readonly xid: number
  readonly subXid: number
}

export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage
  | StreamStartMessage
  | StreamStopMessage
  | StreamCommitMessage
  | StreamAbortMessage
