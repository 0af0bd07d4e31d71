/** @module Values as decoded from PostgreSQL's text format, and the type descriptions that choose decoders. */

/**
 * The text of a json or jsonb value, kept verbatim so that nothing (large numbers, key order,
 * whitespace of `json`) is lost; encoders embed it as-is.
 */
export class JsonText {
  constructor(readonly text: string) {}
  toJSON(): unknown {
    return JSON.parse(this.text)
  }
}

/**
 * One decoded column value. Exactness rules:
 * int2/int4/float → number (NaN/±Infinity kept as numbers); int8 → bigint; numeric, money → string;
 * temporal types → ISO 8601 strings (microseconds kept, 'infinity'/'-infinity' as such);
 * bytea → Uint8Array; json/jsonb → JsonText; arrays → nested arrays; int2vector, oidvector → arrays
 * of numbers; anything else → server text.
 */
export type PgValue = null | boolean | number | bigint | string | Uint8Array | JsonText | readonly PgValue[]

/** Turns the server's text for one value into a PgValue. Chosen once per column, not per row. */
export type ValueDecoder = (text: string) => PgValue

/** What decoding needs to know about a column's type, resolved once per relation. */
export interface PgType {
  readonly oid: number
  /** `format_type(oid, NULL)`: 'integer', 'character varying', 'jsonb', 'integer[]', 'public.mood', … */
  readonly name: string
  /**
   * OID of the built-in type whose decoder applies: the type itself for built-ins, the base type
   * for a domain, 25 (text) for enums and any type without a specific decoder. For arrays: 0.
   */
  readonly scalarOid: number
  /** Set for array types: the element type (itself resolved the same way). */
  readonly element?: PgType
  /** Array element delimiter (`typdelim`), ',' for nearly all types, ';' for box. */
  readonly delimiter: string
}
