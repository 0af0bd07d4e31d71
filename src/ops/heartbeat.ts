/**
 * @module The heartbeat: a logical message emitted in the slot's database every few seconds, so the
 * slot has a transaction of its own database to confirm while its tables are idle and other
 * databases (or unpublished tables) keep the server's WAL moving.
 */
import type postgres from 'postgres'
import type { Logger } from '../logger.ts'
import { connectionSettings, openConnection } from '../pg/connect.ts'
import { emitTransactionalMessage } from '../pg/logical-message.ts'
import { formatLsn } from '../pg/lsn.ts'

/** The logical-message prefix of heartbeats; such messages are never delivered as records. */
export const HEARTBEAT_PREFIX = 'pg_to_brokers.heartbeat'

export interface HeartbeatOptions {
  /** The source database's URL (its own connection is opened; never logged). */
  readonly url: string
  readonly intervalMs: number
  readonly connectTimeoutMs: number
  readonly logger: Logger
}

/**
 * Emits heartbeats on a connection of its own until stopped; a failed one is logged, never fatal.
 * Transactional, so the message belongs to a transaction that commits in this database: the stream
 * sees its BEGIN and COMMIT on every server version (on PostgreSQL 12 and 13 the message itself is
 * not sent, but pgoutput there sends every decoded transaction, empty or not), and the commit's
 * position is confirmed once nothing before it is in flight. A non-transactional message would reach
 * the stream only where logical messages are asked for (PostgreSQL 14 and later).
 */
export class Heartbeat {
  readonly #sql: postgres.Sql
  readonly #logger: Logger
  readonly #timer: ReturnType<typeof setInterval>
  #beating: Promise<void> | undefined
  #failing = false

  private constructor(sql: postgres.Sql, options: HeartbeatOptions) {
    this.#sql = sql
    this.#logger = options.logger
    this.#timer = setInterval(() => this.#beat(), options.intervalMs)
    this.#beat()
  }

  /** Opens the connection (lazily: the first beat connects) and emits the first heartbeat now. */
  static async start(options: HeartbeatOptions): Promise<Heartbeat> {
    // Local commit: a heartbeat must not wait for (or stall on) a synchronous standby.
    const sql = await openConnection(connectionSettings(options.url), options.connectTimeoutMs, 'pg_to_brokers_heartbeat', { synchronous_commit: 'local' })
    return new Heartbeat(sql, options)
  }

  /** Stops emitting, waits for a heartbeat in progress, and closes the connection. */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.#beating
    await this.#sql.end({ timeout: 1 }).catch(() => {})
  }

  /** One heartbeat, unless the previous one is still running (a slow server gets no pile of them). */
  #beat(): void {
    if (this.#beating) return
    this.#beating = this.#emit().finally(() => (this.#beating = undefined))
  }

  async #emit(): Promise<void> {
    try {
      const lsn = await emitTransactionalMessage(this.#sql, HEARTBEAT_PREFIX, new Date().toISOString())
      if (this.#failing) this.#logger.info('heartbeat works again')
      this.#failing = false
      this.#logger.debug('heartbeat', { lsn: formatLsn(lsn) })
    } catch (error) {
      // Said once per run of failures: a hot standby, or a role that may not call the function, fails every time.
      if (!this.#failing) {
        this.#logger.warn(
          'heartbeat failed: the slot advances only with the server keepalives until it works; check that the server is a primary and the role may call pg_logical_emit_message, or turn the heartbeat off',
          {
            reason: error instanceof Error ? error.message : String(error),
          },
        )
      }
      this.#failing = true
    }
  }
}
