/** @module JSON fragments shared by the record formats, cached where the same input repeats. */
import { formatLsn, type Lsn } from '../../pg/lsn.ts'
import type { PgValue } from '../../pg/values/types.ts'
import { formatPgTimestamp } from '../change.ts'
import { encodeJsonValue } from './json-value.ts'

const stringListCache = new WeakMap<readonly string[], string>()

/** JSON array of strings; relation field and type lists are shared arrays, so their JSON is built once. */
export function jsonStringList(list: readonly string[]): string {
  let json = stringListCache.get(list)
  if (json === undefined) {
    json = JSON.stringify(list)
    stringListCache.set(list, json)
  }
  return json
}

export function jsonValueList(values: readonly PgValue[]): string {
  let out = '['
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ','
    out += encodeJsonValue(values[i]!)
  }
  return out + ']'
}

/** Consecutive changes share a transaction: remember the last commit time and LSN formatted. */
export class CommitFields {
  #time: bigint | null = -1n
  #timeText = ''
  #lsn = -1n
  #lsnText = ''

  time(us: bigint | null): string {
    if (us !== this.#time) {
      this.#time = us
      this.#timeText = us === null ? 'null' : JSON.stringify(formatPgTimestamp(us))
    }
    return this.#timeText
  }

  lsn(lsn: Lsn): string {
    if (lsn !== this.#lsn) {
      this.#lsn = lsn
      this.#lsnText = `"${formatLsn(lsn)}"`
    }
    return this.#lsnText
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** A logical message's content: as text when it is valid UTF-8, otherwise as hex. */
export function messageContentJson(content: Uint8Array): string {
  try {
    return `"content":${JSON.stringify(strictUtf8.decode(content))}`
  } catch {
    return `"content_hex":${encodeJsonValue(content)}`
  }
}
