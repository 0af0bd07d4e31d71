/**
 * @module Replays a committed streamed transaction from its spool file through the assembler, as
 * if the server had sent it whole at commit: Begin(commit LSN, commit time, xid) … Commit(end LSN).
 */
import { PgToBrokersError } from '../../errors.ts'
import { PgoutputDecoder } from '../../pg/pgoutput/decode.ts'
import type { StreamCommitMessage } from '../../pg/pgoutput/messages.ts'
import { streamedMessageXid } from '../../pg/pgoutput/streamed.ts'
import type { TransactionAssembler } from '../assemble.ts'
import { readFrames } from './spool-file.ts'

/**
 * Feeds the spooled messages to `assembler` (none when `path` is undefined: nothing was spooled),
 * between a Begin and a Commit built from the Stream Commit, skipping those of rolled-back
 * subtransactions (`aborted`): their changes and also their Relation messages, as the server
 * forgets what schemas it sent in a streamed transaction after any Stream Abort and sends them
 * again before the next change. So the changes get the ids (commit LSN + ordinal) and the order
 * they would have had without streaming.
 *
 * Awaits the assembler (and so the writer) between messages. Resolves true once the Commit was
 * handed on; false when `signal` aborted first (the transaction then stays open in the assembler,
 * and its end LSN unconfirmed). @throws on a damaged spool, a decode error, or a failed delivery.
 */
export async function replayStreamed(
  path: string | undefined,
  aborted: ReadonlySet<number>,
  commit: StreamCommitMessage,
  assembler: TransactionAssembler,
  signal?: AbortSignal,
): Promise<boolean> {
  if (assembler.inTransaction) {
    throw new PgToBrokersError('protocol_error', `pgoutput sent Stream Commit of transaction ${commit.xid} inside another transaction`)
  }
  const decoder = new PgoutputDecoder({ inStream: true })
  await assembler.handle({ tag: 'Begin', finalLsn: commit.commitLsn, commitTime: commit.commitTime, xid: commit.xid })
  if (path !== undefined) {
    const complete = await readFrames(
      path,
      (frame) => {
        if (aborted.size > 0 && aborted.has(streamedMessageXid(frame)!)) return
        return assembler.handle(decoder.decode(frame))
      },
      signal,
    )
    if (!complete) return false
  }
  await assembler.handle({ tag: 'Commit', flags: commit.flags, commitLsn: commit.commitLsn, endLsn: commit.endLsn, commitTime: commit.commitTime })
  return true
}
