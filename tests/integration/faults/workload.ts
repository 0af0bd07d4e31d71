/**
 * @module A continuous workload for the fault harness: transactions of 1 to 20 upserts over a
 * fixed key range (INSERT v=1 for a new key, UPDATE v=v+1 for a known one). The table itself then
 * tells what was committed, even when a restart left a COMMIT's outcome unknown to the client:
 * a key with v=n had versions 1..n committed, in that order.
 */
import postgres from 'postgres'
import { mulberry32 } from '../../seed.ts'

export const WORKLOAD_KEYS = 2000

/** Runs transactions until stop(); failures (a restarting server) are counted and retried. */
export class Workload {
  transactions = 0
  failures = 0
  readonly #sql: postgres.Sql
  readonly #table: string
  readonly #random: () => number
  #stopping = false
  #done: Promise<void> | undefined

  constructor(url: string, table: string, seed: number) {
    this.#sql = postgres(url, { max: 1, onnotice: () => {}, idle_timeout: 5, connect_timeout: 5 })
    this.#table = table
    this.#random = mulberry32(seed)
  }

  start(): void {
    this.#done = this.#loop()
  }

  /** Stops after the transaction in progress and closes the connection. */
  async stop(): Promise<void> {
    this.#stopping = true
    await this.#done
    await this.#sql.end({ timeout: 1 })
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      const size = 1 + Math.floor(this.#random() * 20)
      const keys = new Set<number>()
      while (keys.size < size) keys.add(1 + Math.floor(this.#random() * WORKLOAD_KEYS))
      try {
        await this.#sql.unsafe(`insert into ${this.#table} as t (id, v) select k, 1 from unnest($1::int[]) k on conflict (id) do update set v = t.v + 1`, [
          `{${[...keys].join(',')}}`,
        ])
        this.transactions++
      } catch {
        this.failures++
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      // Paced, so a short campaign's backlog after each fault stays small.
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}
