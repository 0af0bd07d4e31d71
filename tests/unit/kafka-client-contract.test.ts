/**
 * The Kafka writer sends its own record batches over @platformatic/kafka's connections, through
 * exports and symbol-keyed producer methods that the client does not document as public
 * (src/writers/kafka/produce.ts, record-batch.ts). The version is pinned exactly; this test fails
 * loudly when the installed client is another version or no longer has what the writer calls, so
 * an upgrade is a decision, made with the Kafka tests and benchmarks run again.
 */
import { readFileSync } from 'node:fs'
import * as kafka from '@platformatic/kafka'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'

const ROOT = new URL('../../', import.meta.url)
const PINNED = '1.35.0'

function json(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(path, ROOT), 'utf8')) as Record<string, unknown>
}

test('kafka client contract: @platformatic/kafka is pinned to the version whose internals the writer uses', () => {
  assertEquals((json('package.json').dependencies as Record<string, string>)['@platformatic/kafka'], PINNED, 'package.json pins it exactly')
  assertEquals((json('deno.json').imports as Record<string, string>)['@platformatic/kafka'], `npm:@platformatic/kafka@${PINNED}`, 'deno.json pins it exactly')
  assertEquals(json('node_modules/@platformatic/kafka/package.json').version, PINNED, 'the installed client')
})

test('kafka client contract: the producer methods, protocol codecs and helpers the writer calls exist', () => {
  const exports = kafka as unknown as Record<string, unknown>
  for (const name of ['kGetApi', 'kGetConnection', 'kMetadata', 'kOptions', 'kPerformWithRetry']) {
    assertEquals(typeof exports[name], 'symbol', `${name} is an exported symbol`)
  }
  const producer = kafka.Producer.prototype as unknown as Record<symbol, unknown>
  for (const name of ['kGetApi', 'kGetConnection', 'kMetadata', 'kPerformWithRetry']) {
    assertEquals(typeof producer[exports[name] as symbol], 'function', `Producer.prototype[${name}] is a method`)
  }
  for (const version of [7, 8, 9, 10, 11]) {
    const codec = exports[`produceV${version}`] as { parseResponse?: unknown; createRequest?: unknown } | undefined
    assert(codec !== undefined && typeof codec.parseResponse === 'function', `produceV${version}.parseResponse`)
  }
  assertEquals(typeof kafka.crc32c, 'function', 'crc32c')
  assertEquals(typeof kafka.Writer, 'function', 'Writer')
  assertEquals(typeof kafka.GenericError, 'function', 'GenericError')
  assert(typeof kafka.compressionsAlgorithms === 'object' && kafka.compressionsAlgorithms !== null, 'compressionsAlgorithms')
})
