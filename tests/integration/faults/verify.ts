/**
 * @module The fault harness's verifier: the output file against what the table says was committed.
 * 0 rows missing, each key's first occurrences in commit order without gaps, first occurrences in
 * commit-LSN order, and duplicates only byte-identical re-sends with the same record id.
 */
import { readFileSync } from 'node:fs'
import { parseLsn } from '../../../src/pg/lsn.ts'

export interface Verdict {
  readonly lines: number
  readonly unique: number
  readonly duplicates: number
  readonly missing: number
  readonly tornFinalLine: boolean
}

/** `committed`: each key's final v, read from the table. Throws on the first class of violation. */
export function verifyOutput(path: string, committed: ReadonlyMap<number, number>): Verdict {
  const parts = readFileSync(path, 'utf8').split('\n')
  const tail = parts.pop() // '' when the file ends with a newline; else a torn, never acknowledged line
  const firstById = new Map<string, string>()
  const lastV = new Map<number, number>()
  let previousLsn = -1n
  for (const [i, line] of parts.entries()) {
    let record: { id: string; lsn: string; operation: string; values: number[] }
    try {
      record = JSON.parse(line)
    } catch {
      throw new Error(`line ${i + 1} of ${path} is not a complete record: ${JSON.stringify(line.slice(0, 200))}`)
    }
    const earlier = firstById.get(record.id)
    if (earlier !== undefined) {
      if (earlier !== line) throw new Error(`record ${record.id} was re-sent with different bytes:\n first ${earlier}\n again ${line}`)
      continue
    }
    firstById.set(record.id, line)
    if (record.operation === 'MESSAGE') continue
    const lsn = parseLsn(record.lsn)
    if (lsn < previousLsn) throw new Error(`first occurrences leave commit order at ${record.id}`)
    previousLsn = lsn
    const [key, v] = [record.values[0]!, record.values[1]!]
    const expected = (lastV.get(key) ?? 0) + 1
    if (v !== expected) throw new Error(`key ${key}: first occurrence v=${v} (record ${record.id}), expected v=${expected}: out of order or a gap`)
    lastV.set(key, v)
  }
  let missing = 0
  for (const [key, v] of committed) missing += Math.max(0, v - (lastV.get(key) ?? 0))
  for (const [key, v] of lastV) if (v > (committed.get(key) ?? 0)) throw new Error(`key ${key}: v=${v} in the output was never committed`)
  return { lines: parts.length, unique: firstById.size, duplicates: parts.length - firstById.size, missing, tornFinalLine: tail !== '' }
}
