/**
 * @module Snapshot requests and their progress, kept in a table of the source database beside the slot
 * record table. Inserting a row there is how a snapshot is asked for (the signal table); a running
 * instance picks it up. Progress moves only after a chunk's records are durable, so a restart resumes
 * at the last finished chunk.
 */
import type postgres from 'postgres'
import { PgToBrokersError } from '../errors.ts'
import { parseQualifiedName, quoteIdent, quoteQualifiedName, type QualifiedName } from '../pg/identifiers.ts'

/** The progress table's name; it lives in the schema of the slot record table. */
export const SNAPSHOT_TABLE_NAME = 'pg_to_brokers_snapshots'

export type SnapshotKind = 'initial' | 'incremental'
export type SnapshotStatus = 'requested' | 'running' | 'done' | 'failed' | 'cancelled'

/** One table's snapshot: what was asked for and how far it got. */
export interface SnapshotRequest {
  /** The row's id (a bigint, as text). */
  readonly id: string
  readonly slot: string
  /** `schema.table` as --tables takes it (see snapshotTableText): `public.orders`, `public."Orders"`. */
  readonly table: string
  readonly where: string | null
  readonly kind: SnapshotKind
  readonly status: SnapshotStatus
  /** The text values of the key columns of the last row delivered; null before the first chunk. */
  readonly lastKey: string[] | null
  readonly rowsDone: number
  readonly rowsEstimate: number | null
  /** Why it failed (status 'failed'). */
  readonly error: string | null
}

/** What a request asks for: a table (`schema.table`, see snapshotTableText), an optional filter, the size estimate shown in progress. */
export interface SnapshotTarget {
  readonly table: string
  readonly where?: string | null | undefined
  readonly rowsEstimate?: number | null | undefined
}

/** The progress table that goes with a slot record table: same schema, fixed name. */
export function snapshotTableOf(stateTable: QualifiedName): QualifiedName {
  return { schema: stateTable.schema, name: SNAPSHOT_TABLE_NAME }
}

/**
 * `schema.table` as the progress table stores it: each part bare when it is a plain lower-case name
 * (`public.orders`), else double-quoted (`public."Orders"`), so it reads back the way --tables and
 * parseQualifiedName read a name, and a row inserted by hand names a table like --tables does.
 */
export function snapshotTableText(table: QualifiedName): string {
  return `${namePart(table.schema)}.${namePart(table.name)}`
}

/** The table a stored `schema.table` names (a bare `table` is in public). @throws Error for text that is no table name. */
export function parseSnapshotTableText(text: string): QualifiedName {
  return parseQualifiedName(text)
}

const namePart = (part: string): string => (/^[a-z_][a-z0-9_$]*$/.test(part) ? part : quoteIdent(part))

const ACTIVE = `status in ('requested', 'running')`
const COLUMNS =
  'id::text as id, slot, table_name, where_clause, kind, status, last_key::text as last_key, rows_done::text as rows_done, ' +
  'rows_estimate::text as rows_estimate, error'

interface RequestRow {
  id: string
  slot: string
  table_name: string
  where_clause: string | null
  kind: SnapshotKind
  status: SnapshotStatus
  last_key: string | null
  rows_done: string
  rows_estimate: string | null
  error: string | null
}

/** Reads and writes snapshot requests. Every statement names the table quoted; values are bound. */
export class SnapshotProgressStore {
  readonly #sql: postgres.Sql
  readonly #name: QualifiedName
  readonly #table: string
  readonly #tableText: string

  /** `stateTable` is the slot record table: the progress table is created in its schema. */
  constructor(sql: postgres.Sql, stateTable: QualifiedName) {
    const table = snapshotTableOf(stateTable)
    this.#sql = sql
    this.#name = table
    this.#table = quoteQualifiedName(table)
    this.#tableText = snapshotTableText(table)
  }

  /**
   * Creates the table (and its index: one active snapshot per slot and table) when it is missing.
   * @throws PgToBrokersError 'snapshot_table_denied' when the role may not create it.
   */
  async ensure(): Promise<void> {
    if (await this.#exists()) return
    try {
      await this.#sql.begin(async (tx) => {
        for (const statement of createStatements(this.#name)) await tx.unsafe(statement)
      })
    } catch (error) {
      // Another process created it at the same moment: what matters is that it exists now.
      if (isDuplicateObject(error) && (await this.#exists())) return
      throw this.#explain(error)
    }
  }

  /**
   * Asks for a snapshot of each target, all or none, in one transaction.
   * @throws PgToBrokersError 'snapshot_already_running' naming the table and the active request's
   * id when a target already has a requested or running snapshot for this slot (nothing is inserted).
   */
  async request(slot: string, targets: readonly SnapshotTarget[], kind: SnapshotKind): Promise<SnapshotRequest[]> {
    await this.ensure()
    try {
      return await this.#sql.begin(async (tx) => {
        const made: SnapshotRequest[] = []
        for (const target of targets) made.push(await this.#insert(tx, slot, target, kind))
        return made
      })
    } catch (error) {
      throw this.#explain(error)
    }
  }

  /** The slot's requested and running snapshots, oldest first. */
  async pending(slot: string): Promise<SnapshotRequest[]> {
    if (!(await this.#exists())) return []
    return (await this.#query(`select ${COLUMNS} from ${this.#table} where slot = $1 and ${ACTIVE} order by id`, [slot])).map(fromRow)
  }

  /** The request with this id, whatever its status; undefined when there is none. */
  async get(id: string): Promise<SnapshotRequest | undefined> {
    const [row] = await this.#query(`select ${COLUMNS} from ${this.#table} where id = $1::bigint`, [id])
    return row === undefined ? undefined : fromRow(row)
  }

  /** Marks a request running (a resumed one keeps its first start time). False when it is no longer active (cancelled). */
  async start(id: string): Promise<boolean> {
    return this.#update(`status = 'running', started_at = coalesce(started_at, now())`, id, [])
  }

  /**
   * Records the last key delivered and the total rows delivered so far. Call it only once the
   * chunk's records are durable. False when the request is no longer active (cancelled): stop reading it.
   */
  async advance(id: string, lastKey: readonly string[] | null, rowsDone: number): Promise<boolean> {
    const key = lastKey === null ? null : JSON.stringify(lastKey)
    return this.#update(`last_key = $2::text::jsonb, rows_done = $3::bigint`, id, [key, String(rowsDone)])
  }

  /** Marks a request done. False when it was no longer active. */
  async finish(id: string): Promise<boolean> {
    return this.#update(`status = 'done', finished_at = now()`, id, [])
  }

  /** Marks a request failed, keeping why. False when it was no longer active. */
  async fail(id: string, message: string): Promise<boolean> {
    return this.#update(`status = 'failed', finished_at = now(), error = $2`, id, [message])
  }

  /** Cancels the slot's active snapshots (of one table, `schema.table`, when given); resolves with those cancelled. */
  async cancel(slot: string, table?: string): Promise<SnapshotRequest[]> {
    if (!(await this.#exists())) return []
    const rows = await this.#query(
      `update ${this.#table} set status = 'cancelled', finished_at = now()
       where slot = $1 and ($2::text is null or table_name = $2) and ${ACTIVE} returning ${COLUMNS}`,
      [slot, table ?? null],
    )
    return rows.map(fromRow).sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)))
  }

  async #insert(tx: postgres.TransactionSql, slot: string, target: SnapshotTarget, kind: SnapshotKind): Promise<SnapshotRequest> {
    const estimate = target.rowsEstimate == null || target.rowsEstimate < 0 ? null : String(Math.round(target.rowsEstimate))
    const [row] = await tx.unsafe<RequestRow[]>(
      `insert into ${this.#table} (slot, table_name, where_clause, kind, rows_estimate) values ($1, $2, $3, $4, $5::bigint)
       on conflict (slot, table_name) where ${ACTIVE} do nothing returning ${COLUMNS}`,
      [slot, target.table, target.where ?? null, kind, estimate],
    )
    if (row !== undefined) return fromRow(row)
    const [active] = await tx.unsafe<RequestRow[]>(`select ${COLUMNS} from ${this.#table} where slot = $1 and table_name = $2 and ${ACTIVE}`, [
      slot,
      target.table,
    ])
    throw new PgToBrokersError(
      'snapshot_already_running',
      `a snapshot of ${target.table} for slot "${slot}" is already ${active?.status ?? 'requested'} (request ${active?.id ?? '?'}): ` +
        `nothing was requested. Wait for it to finish, or cancel it first (pg-to-brokers snapshot --cancel --tables ${tableArgument(target.table)} --slot ${slot})`,
    )
  }

  async #update(assignments: string, id: string, parameters: readonly (string | null)[]): Promise<boolean> {
    const rows = await this.#query(`update ${this.#table} set ${assignments} where id = $1::bigint and ${ACTIVE} returning id::text as id`, [id, ...parameters])
    return rows.length > 0
  }

  async #query(text: string, parameters: readonly (string | null)[]): Promise<RequestRow[]> {
    try {
      return await this.#sql.unsafe<RequestRow[]>(text, [...parameters])
    } catch (error) {
      throw this.#explain(error)
    }
  }

  async #exists(): Promise<boolean> {
    const [row] = await this.#sql.unsafe<{ found: boolean }[]>('select to_regclass($1) is not null as found', [this.#table])
    return row?.found === true
  }

  /** A permission failure becomes an error that says what an administrator can run. */
  #explain(error: unknown): unknown {
    if ((error as { code?: string }).code !== '42501') return error
    return new PgToBrokersError(
      'snapshot_table_denied',
      `cannot create or write the snapshot table ${this.#tableText} (permission denied): it holds snapshot requests and their progress. ` +
        `Let an administrator run: ${createStatements(this.#name).join('; ')}; GRANT SELECT, INSERT, UPDATE ON ${this.#table} TO <this role>; ` +
        `GRANT USAGE ON SEQUENCE ${quoteQualifiedName({ schema: this.#name.schema, name: `${this.#name.name}_id_seq` })} TO <this role>; ` +
        'or name a slot record table (--state-table) in a schema this role may create tables in',
      { cause: error },
    )
  }
}

/** The table and its index (in the table's schema): at most one requested-or-running snapshot per slot and table. */
function createStatements(name: QualifiedName): string[] {
  const table = quoteQualifiedName(name)
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (id bigserial PRIMARY KEY, slot text NOT NULL, table_name text NOT NULL, where_clause text, ` +
      `kind text NOT NULL DEFAULT 'incremental' CHECK (kind IN ('initial', 'incremental')), ` +
      `status text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'running', 'done', 'failed', 'cancelled')), ` +
      `last_key jsonb, rows_done bigint NOT NULL DEFAULT 0, rows_estimate bigint, requested_at timestamptz NOT NULL DEFAULT now(), ` +
      `started_at timestamptz, finished_at timestamptz, error text)`,
    `CREATE UNIQUE INDEX IF NOT EXISTS ${quoteIdent(`${name.name}_active`)} ON ${table} (slot, table_name) WHERE ${ACTIVE}`,
  ]
}

/** 23505 on pg_type or 42P07: a concurrent CREATE TABLE IF NOT EXISTS won the race. */
function isDuplicateObject(error: unknown): boolean {
  const code = (error as { code?: string }).code
  return code === '23505' || code === '42P07'
}

/** A stored `schema.table` as a shell argument (single-quoted where the shell would change it). */
function tableArgument(argument: string): string {
  return /^[\w.$]+$/.test(argument) ? argument : `'${argument.replaceAll("'", `'\\''`)}'`
}

function fromRow(row: RequestRow): SnapshotRequest {
  return {
    id: row.id,
    slot: row.slot,
    table: row.table_name,
    where: row.where_clause,
    kind: row.kind,
    status: row.status,
    lastKey: row.last_key === null ? null : (JSON.parse(row.last_key) as string[]),
    rowsDone: Number(row.rows_done),
    rowsEstimate: row.rows_estimate === null ? null : Number(row.rows_estimate),
    error: row.error,
  }
}
