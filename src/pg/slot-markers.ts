/**
 * @module The tool's record of the slots it streams from, kept in a table of the source database.
 * A slot that is missing while its record exists was lost (dropped, invalidated, or absent after a
 * failover): creating a new one would silently skip every change since the last confirmation. The
 * record lives in the database rather than beside the process, so a new container, a second host
 * or a promoted replica (the table is replicated with the data) all see it.
 */
import { PgToBrokersError } from '../errors.ts'
import { quoteQualifiedName, type QualifiedName } from './identifiers.ts'

/** The default table: in `public`, which every database has. */
export const DEFAULT_STATE_TABLE = 'public.pg_to_brokers_slots'

export interface SlotMarker {
  readonly slot: string
  /** The slot's position when the record was made (its creation, or the first start that found it). */
  readonly createdLsn: string
  readonly createdAt: string
  /** The slot's confirmed position as last seen by a start or a clean stop. */
  readonly confirmedLsn: string | null
  readonly confirmedAt: string | null
}

/** Runs one statement with bound parameters; the driver stays out of this module's (public) types. */
export type RunQuery = <Row>(text: string, parameters: readonly (string | null)[]) => Promise<Row[]>

/** Reads and writes slot records. Every statement names the table quoted; values are bound. */
export class SlotMarkers {
  readonly #query: RunQuery
  readonly #table: string
  readonly #tableText: string

  constructor(query: RunQuery, table: QualifiedName) {
    this.#query = query
    this.#table = quoteQualifiedName(table)
    this.#tableText = `${table.schema}.${table.name}`
  }

  /** The record for `slot`; undefined when there is none or the table does not exist yet. */
  async read(slot: string): Promise<SlotMarker | undefined> {
    if (!(await this.#tableExists())) return undefined
    const [row] = await this.#query<{ created_lsn: string; created_at: string; confirmed_lsn: string | null; confirmed_at: string | null }>(
      `select created_lsn::text, created_at::text, confirmed_lsn::text, confirmed_at::text from ${this.#table} where slot_name = $1`,
      [slot],
    )
    if (!row) return undefined
    return { slot, createdLsn: row.created_lsn, createdAt: row.created_at, confirmedLsn: row.confirmed_lsn, confirmedAt: row.confirmed_at }
  }

  /**
   * Records that `slot` exists at `lsn` (replacing an older record).
   * @throws PgToBrokersError 'state_table_denied' when the table cannot be created or written.
   */
  async record(slot: string, lsn: string): Promise<void> {
    await this.#write(async () => {
      if (!(await this.#tableExists())) await this.#query(createTableStatement(this.#table), [])
      await this.#query(
        `insert into ${this.#table} (slot_name, created_lsn, confirmed_lsn, confirmed_at) values ($1, $2::pg_lsn, $2::pg_lsn, now())
         on conflict (slot_name) do update set created_lsn = excluded.created_lsn, created_at = now(),
           confirmed_lsn = excluded.confirmed_lsn, confirmed_at = now()`,
        [slot, lsn],
      )
    })
  }

  /** Notes the slot's confirmed position (at a start and a clean stop: two small writes a run). */
  async confirm(slot: string, lsn: string): Promise<void> {
    await this.#write(() => this.#query(`update ${this.#table} set confirmed_lsn = $2::pg_lsn, confirmed_at = now() where slot_name = $1`, [slot, lsn]))
  }

  /** Removes the record, after the tool dropped the slot on purpose. */
  async forget(slot: string): Promise<void> {
    if (!(await this.#tableExists())) return
    await this.#write(() => this.#query(`delete from ${this.#table} where slot_name = $1`, [slot]))
  }

  async #tableExists(): Promise<boolean> {
    const [row] = await this.#query<{ found: boolean }>('select to_regclass($1) is not null as found', [this.#table])
    return row?.found === true
  }

  async #write(action: () => Promise<unknown>): Promise<void> {
    try {
      await action()
    } catch (error) {
      if ((error as { code?: string }).code !== '42501') throw error
      throw new PgToBrokersError(
        'state_table_denied',
        `cannot write the slot record table ${this.#tableText} (permission denied): it is how a lost replication slot is told from a first start. ` +
          `Let an administrator run: ${createTableStatement(this.#table)}; GRANT SELECT, INSERT, UPDATE, DELETE ON ${this.#table} TO <this role>; ` +
          'or name a table this role may create with stateTable (--state-table)',
        { cause: error },
      )
    }
  }
}

/** The record table; the slot name is the key, positions are pg_lsn so they compare as positions. */
function createTableStatement(table: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${table} (slot_name text PRIMARY KEY, created_lsn pg_lsn NOT NULL, ` +
    `created_at timestamptz NOT NULL DEFAULT now(), confirmed_lsn pg_lsn, confirmed_at timestamptz)`
  )
}
