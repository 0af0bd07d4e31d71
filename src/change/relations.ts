/** @module Relation schemas: built once per Relation message, with a value decoder chosen per column. */
import type { RelationMessage } from '../pg/pgoutput/messages.ts'
import type { PgType, ValueDecoder } from '../pg/values/types.ts'
import { decoderFor } from '../pg/values/decode.ts'

export interface RelationColumnSchema {
  readonly name: string
  readonly type: PgType
  readonly decode: ValueDecoder
  /** Part of the replica identity (what pgoutput sends as the old key). */
  readonly isReplicaIdentity: boolean
}

export interface RelationSchema {
  readonly oid: number
  readonly schema: string
  readonly name: string
  /** "schema.table", as records show it. */
  readonly qualifiedName: string
  readonly replicaIdentity: string
  readonly columns: readonly RelationColumnSchema[]
  /** Column names and type names, shared by every change of this relation. */
  readonly fields: readonly string[]
  readonly types: readonly string[]
  /**
   * Positions of the key columns: the replica identity as the Relation message flags it (the
   * primary key under DEFAULT, the index's columns under USING INDEX; in column order), which
   * every INSERT, UPDATE and DELETE carries; under FULL or NOTHING the primary key, in key order.
   */
  readonly keyIndexes: readonly number[]
}

/** What building a schema needs from the catalog: types resolved and, under FULL or NOTHING, the primary key's columns. */
export interface RelationCatalog {
  types(oids: readonly number[]): Promise<Map<number, PgType>>
  primaryKey(relationOid: number): Promise<string[]>
}

/** A relation as the Relation message describes it; the catalog's description of a table for a snapshot has the same shape. */
export interface RelationDescription {
  readonly oid: number
  readonly schema: string
  readonly name: string
  /** 'd' default, 'n' nothing, 'f' full, 'i' index. */
  readonly replicaIdentity: string
  /** In the order the Relation message lists them; `isKey` as it flags them. */
  readonly columns: readonly { readonly name: string; readonly typeOid: number; readonly isKey: boolean }[]
}

/** Builds the schema for a Relation message; the caller keeps it until the next Relation for that OID. */
export function buildRelationSchema(message: RelationMessage, catalog: RelationCatalog): Promise<RelationSchema> {
  const { relationOid: oid, namespace: schema, relationName: name, replicaIdentity, columns } = message
  return relationSchemaOf({ oid, schema, name, replicaIdentity, columns }, catalog)
}

/** Builds the schema of a described relation: the one path for the stream and for snapshots, so their records agree. */
export async function relationSchemaOf(relation: RelationDescription, catalog: RelationCatalog): Promise<RelationSchema> {
  const types = await catalog.types(relation.columns.map((c) => c.typeOid))
  const columns = relation.columns.map((c): RelationColumnSchema => {
    const type = types.get(c.typeOid)!
    return { name: c.name, type, decode: decoderFor(type), isReplicaIdentity: c.isKey }
  })
  const names = columns.map((c) => c.name)
  const keyIndexes = await keyIndexesOf(relation, names, catalog)
  return {
    oid: relation.oid,
    schema: relation.schema,
    name: relation.name,
    qualifiedName: `${relation.schema}.${relation.name}`,
    replicaIdentity: relation.replicaIdentity,
    columns,
    fields: names,
    types: columns.map((c) => c.type.name),
    keyIndexes,
  }
}

/**
 * Under DEFAULT and USING INDEX the Relation message flags the replica identity, whose values
 * DELETE carries too, so a row's changes share one key; the flags describe the relation when the
 * change was made, so a re-sent change keeps its key after the primary key changed. FULL flags
 * every column and NOTHING none: there the catalog's primary key is the best key there is.
 */
async function keyIndexesOf(relation: RelationDescription, names: readonly string[], catalog: RelationCatalog): Promise<number[]> {
  if (relation.replicaIdentity === 'd' || relation.replicaIdentity === 'i') {
    return relation.columns.flatMap((c, i) => (c.isKey ? [i] : []))
  }
  const primaryKey = await catalog.primaryKey(relation.oid)
  const keyIndexes = primaryKey.map((k) => names.indexOf(k))
  return keyIndexes.length > 0 && keyIndexes.every((i) => i >= 0) ? keyIndexes : []
}
