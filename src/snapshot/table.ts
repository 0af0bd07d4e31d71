/** @module Describes a table for a snapshot from the catalog: its relation as the stream shows it, its key, its size, its checked WHERE. */
import type postgres from 'postgres'
import { PgToBrokersError } from '../errors.ts'
import { relationSchemaOf, type RelationCatalog, type RelationSchema } from '../change/relations.ts'
import { Catalog } from '../pg/catalog.ts'
import { parseQualifiedName, quoteQualifiedName, type QualifiedName } from '../pg/identifiers.ts'
import { escapeFromParentheses, whereCondition } from './where.ts'

/** A key column: its name, its position in `relation.columns` and its type as SQL (`format_type`, with its modifier). */
export interface SnapshotKeyColumn {
  readonly name: string
  readonly index: number
  readonly typeSql: string
}

export interface SnapshotTable {
  /** Equal to what the stream's Relation message gives for the table (fields, types, decoders, key indexes). */
  readonly relation: RelationSchema
  /** The pagination key: the primary key (under USING INDEX the identity index) in key order; empty when the table has none. */
  readonly keyColumns: readonly SnapshotKeyColumn[]
  /** pg_class.reltuples (partitioned: summed over the partitions); -1 when the table was never analyzed. */
  readonly estimatedRows: number
  /** The request's WHERE, checked by the server; undefined for every row. */
  readonly where: string | undefined
  /** The publication's row filter for the table (PostgreSQL ≥ 15), so the snapshot holds only rows the stream would. */
  readonly rowFilter: string | undefined
  readonly qualified: QualifiedName
  /** A partitioned table is read through its root (every partition); any other without its inheritance children, which pgoutput publishes apart. */
  readonly partitioned: boolean
}

/**
 * Reads what a snapshot of `name` ("table" or "schema.table", quoted parts kept) needs, for the
 * publication `publication`, and checks `where` with the server's planner, in a read-only
 * transaction, without running it.
 * @throws PgToBrokersError `snapshot_table_missing`, `snapshot_table_not_published`, `snapshot_bad_where`.
 */
export async function describeSnapshotTable(
  sql: postgres.Sql,
  name: string,
  publication: string,
  where: string | undefined,
  catalog: RelationCatalog = Catalog.over(sql),
): Promise<SnapshotTable> {
  const qualified = qualifiedNameOf(name)
  const table = await findTable(sql, qualified)
  const published = await publishedAs(sql, table, publication)
  const columns = await columnsOf(sql, table.oid, publication, published.columns)
  const identity = await identityColumns(sql, table)
  const relation = await relationSchemaOf(
    {
      oid: table.oid,
      schema: qualified.schema,
      name: qualified.name,
      replicaIdentity: table.replident,
      columns: columns.map((c) => ({ name: c.name, typeOid: c.typeOid, isKey: table.replident === 'f' || identity.flagged.includes(c.name) })),
    },
    catalog,
  )
  const keyColumns = identity.paging.map((key): SnapshotKeyColumn => {
    const index = columns.findIndex((c) => c.name === key)
    if (index < 0) throw notPublished(qualified, publication, `its key column "${key}" is not in the publication's column list: add it there`)
    return { name: key, index, typeSql: columns[index]!.typeSql }
  })
  const condition = where === undefined || where.trim() === '' ? undefined : where
  if (condition !== undefined) await checkWhere(sql, qualified, condition)
  return {
    relation,
    keyColumns,
    estimatedRows: table.estimatedRows,
    where: condition,
    rowFilter: published.rowFilter,
    qualified,
    partitioned: table.relkind === 'p',
  }
}

interface TableRow {
  oid: number
  relkind: string
  replident: string
  estimatedRows: number
}

interface ColumnRow {
  name: string
  typeOid: number
  typeSql: string
}

function qualifiedNameOf(name: string): QualifiedName {
  try {
    return parseQualifiedName(name)
  } catch (error) {
    throw new PgToBrokersError('snapshot_table_missing', `cannot snapshot ${JSON.stringify(name)}: ${(error as Error).message}`)
  }
}

async function findTable(sql: postgres.Sql, name: QualifiedName): Promise<TableRow> {
  const [row] = await sql<TableRow[]>`
    select c.oid::int as oid, c.relkind::text as relkind, c.relreplident::text as replident,
      (with recursive tree as (
         select c.oid union select i.inhrelid from tree t join pg_inherits i on i.inhparent = t.oid)
       select case when count(*) filter (where k.reltuples >= 0) = 0 then -1 else sum(greatest(k.reltuples, 0)) end::float8
       from tree t join pg_class k on k.oid = t.oid where k.relkind = 'r') as "estimatedRows"
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${name.schema} and c.relname = ${name.name} and c.relkind in ('r', 'p')`
  if (!row) {
    throw new PgToBrokersError(
      'snapshot_table_missing',
      `cannot snapshot ${quoteQualifiedName(name)}: no such table: check the name (quote a mixed-case part: "Schema"."Table")`,
    )
  }
  return row
}

/**
 * How the publication lists the table (pg_publication_tables, as the stream sees it): the table
 * itself, with its column list and row filter (PostgreSQL ≥ 15). A partitioned table published
 * by its partitions, or a partition published by its root, shows in the stream under another
 * relation, so it is refused with the names to ask for instead.
 */
async function publishedAs(sql: postgres.Sql, table: TableRow, publication: string): Promise<{ columns: string[] | undefined; rowFilter: string | undefined }> {
  const [row] = await sql<{ listed: { attnames?: string[] | null; rowfilter?: string | null } | null; via: QualifiedName[] | null }[]>`
    select (select to_jsonb(p) from pg_publication_tables p join pg_namespace n on n.nspname = p.schemaname
             join pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
             where p.pubname = ${publication} and c.oid = ${table.oid}) as listed,
      (with recursive
         up as (select ${table.oid}::oid as oid union select i.inhparent from up u join pg_inherits i on i.inhrelid = u.oid),
         down as (select ${table.oid}::oid as oid union select i.inhrelid from down d join pg_inherits i on i.inhparent = d.oid),
         around as (select oid from up union select oid from down)
       select json_agg(json_build_object('schema', p.schemaname, 'name', p.tablename) order by p.schemaname, p.tablename)
       from around a join pg_class c on c.oid = a.oid join pg_namespace n on n.oid = c.relnamespace
       join pg_publication_tables p on p.pubname = ${publication} and p.schemaname = n.nspname and p.tablename = c.relname
       where a.oid <> ${table.oid}) as via`
  const listed = row?.listed
  if (!listed) {
    const qualified = await nameOf(sql, table.oid)
    const hint = row?.via
      ? `the publication shows its rows as ${row.via.map(quoteQualifiedName).join(', ')} (publish_via_partition_root decides which): snapshot that instead`
      : `add it with ALTER PUBLICATION ... ADD TABLE, or snapshot a published table`
    throw notPublished(qualified, publication, hint)
  }
  return { columns: listed.attnames ?? undefined, rowFilter: listed.rowfilter ?? undefined }
}

async function nameOf(sql: postgres.Sql, oid: number): Promise<QualifiedName> {
  const [row] = await sql<{ schema: string; name: string }[]>`
    select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.oid = ${oid}`
  return row ?? { schema: '?', name: String(oid) }
}

function notPublished(name: QualifiedName, publication: string, hint: string): PgToBrokersError {
  return new PgToBrokersError(
    'snapshot_table_not_published',
    `cannot snapshot ${quoteQualifiedName(name)}: publication "${publication}" does not publish it: ${hint}`,
  )
}

/**
 * The columns pgoutput sends, in attribute order: those of the publication's column list
 * (PostgreSQL ≥ 15; it names generated columns too, which pgoutput leaves out unless the
 * publication sets publish_generated_columns, PostgreSQL ≥ 18), less dropped ones.
 */
async function columnsOf(sql: postgres.Sql, oid: number, publication: string, listed: readonly string[] | undefined): Promise<ColumnRow[]> {
  const rows = await sql<(ColumnRow & { generated: string | null; withGenerated: boolean })[]>`
    select a.attname as name, a.atttypid::int as "typeOid", format_type(a.atttypid, a.atttypmod) as "typeSql",
      to_jsonb(a)->>'attgenerated' as generated,
      coalesce((select to_jsonb(p)->>'pubgencols' from pg_publication p where p.pubname = ${publication}), 'n') not in ('n', 'f') as "withGenerated"
    from pg_attribute a where a.attrelid = ${oid} and a.attnum > 0 and not a.attisdropped order by a.attnum`
  const kept = rows.filter((r) => (!listed || listed.includes(r.name)) && (!r.generated || r.withGenerated))
  return kept.map(({ name, typeOid, typeSql }) => ({ name, typeOid, typeSql }))
}

/**
 * The columns the Relation message flags as replica identity, as PostgreSQL's relcache picks the
 * index (valid, unique, immediate, no predicate: the primary key under DEFAULT, the chosen index
 * under USING INDEX, none under NOTHING), and the key pages are read by: the identity index under
 * USING INDEX, else the primary key, in index column order.
 */
async function identityColumns(sql: postgres.Sql, table: TableRow): Promise<{ flagged: string[]; paging: string[] }> {
  const rows = await sql<{ name: string; primary: boolean; identity: boolean; usable: boolean }[]>`
    select a.attname as name, i.indisprimary as primary, i.indisreplident as identity,
      (i.indisvalid and i.indisunique and i.indimmediate and i.indpred is null) as usable
    from pg_index i join lateral unnest(i.indkey) with ordinality k(attnum, ord) on true
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
    where i.indrelid = ${table.oid} and (i.indisprimary or i.indisreplident) order by i.indisprimary desc, k.ord`
  const primary = rows.filter((r) => r.primary)
  const index = rows.filter((r) => r.identity)
  const chosen = table.replident === 'd' ? primary : table.replident === 'i' ? index : []
  const paging = table.replident === 'i' && index.length > 0 ? index : primary
  return { flagged: chosen.filter((r) => r.usable).map((r) => r.name), paging: paging.map((r) => r.name) }
}

/**
 * Refuses a WHERE that could reach past its parentheses, then plans `SELECT 1 FROM <table> WHERE
 * <where>` in a read-only transaction over the extended protocol, which takes one statement
 * only: nothing of the WHERE runs, and the server names any mistake in it.
 */
async function checkWhere(sql: postgres.Sql, table: QualifiedName, where: string): Promise<void> {
  const escape = escapeFromParentheses(where)
  if (escape !== undefined) throw badWhere(table, `${escape}: give one condition on its columns`)
  // postgres.js sends unsafe() text without parameters as a simple query, which runs every statement in it.
  const extended = { simple: false } as postgres.UnsafeQueryOptions
  try {
    await sql.begin('read only', (tx) => tx.unsafe(`EXPLAIN SELECT 1 FROM ${quoteQualifiedName(table)} WHERE ${whereCondition(where)}`, [], extended))
  } catch (error) {
    const e = error as { severity?: unknown; message?: unknown }
    if (typeof e.severity !== 'string') throw error
    throw badWhere(table, `PostgreSQL refuses it: ${String(e.message)}: give a boolean condition on its columns`, error)
  }
}

function badWhere(table: QualifiedName, why: string, cause?: unknown): PgToBrokersError {
  return new PgToBrokersError('snapshot_bad_where', `the WHERE of the snapshot of ${quoteQualifiedName(table)} is refused: ${why}`, { cause })
}
