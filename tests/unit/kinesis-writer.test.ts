import { test } from '../harness.ts'
import { assertEquals, assertRejects, assertThrows } from '../assert.ts'
import type { Change } from '../../src/change/change.ts'
import type { RelationSchema } from '../../src/change/relations.ts'
import { KinesisWriter } from '../../src/writers/kinesis/writer.ts'

const BASE = { region: 'us-east-1', streamName: 'orders', credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } }

function rowChange(id: number): Change {
  const relation = { qualifiedName: 'public.orders', fields: ['id', 'note'], keyIndexes: [0] } as unknown as RelationSchema
  return {
    id: `0/1:${id}`,
    operation: 'INSERT',
    relation,
    fields: relation.fields,
    types: ['integer', 'text'],
    values: [id, 'x'],
    unchangedToastFields: undefined,
    old: undefined,
    transactionId: 1,
    commitLsn: 1n,
    commitTime: null,
    ordinal: id,
    truncate: undefined,
    message: undefined,
  }
}

test('kinesis writer: partition key strategies — row (default), table, constant, a function, a subclass', () => {
  assertEquals(new KinesisWriter(BASE).assignChangeToPartitionKey(rowChange(7)), 'public.orders:7')
  assertEquals(new KinesisWriter({ ...BASE, partitionKey: 'table' }).assignChangeToPartitionKey(rowChange(7)), 'public.orders')
  assertEquals(new KinesisWriter({ ...BASE, partitionKey: 'constant' }).assignChangeToPartitionKey(rowChange(7)), 'pg_to_brokers')
  assertEquals(new KinesisWriter({ ...BASE, partitionKey: 'constant', constantKey: 'all' }).assignChangeToPartitionKey(rowChange(7)), 'all')
  assertEquals(
    new KinesisWriter({ ...BASE, partitionKey: (change) => `even:${Number(change.values[0]) % 2}` }).assignChangeToPartitionKey(rowChange(7)),
    'even:1',
  )
  class ByNote extends KinesisWriter {
    override assignChangeToPartitionKey(change: Change): string {
      return String(change.values[1])
    }
  }
  assertEquals(new ByNote(BASE).assignChangeToPartitionKey(rowChange(7)), 'x')
})

test('kinesis writer: invalid options fail at construction with the option named', () => {
  const { streamName: _, ...noStream } = BASE
  assertThrows(() => new KinesisWriter(noStream), 'Kinesis writer: streamName: required: give streamName or streamArn')
  assertThrows(
    () => new KinesisWriter({ ...BASE, streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/orders' }),
    'streamArn: give either streamName or streamArn, not both',
  )
  assertThrows(() => new KinesisWriter({ ...noStream, streamArn: 'orders' }), 'streamArn: expected a stream ARN')
  assertThrows(
    () => new KinesisWriter({ ...noStream, region: 'eu-west-1', streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/orders' }),
    'region: "eu-west-1" differs from the region in streamArn ("us-east-1")',
  )
  assertEquals(
    new KinesisWriter({ ...noStream, region: undefined, streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/orders' }) instanceof KinesisWriter,
    true,
    'region taken from the ARN',
  )
  assertThrows(() => new KinesisWriter({ ...BASE, oversizedRecord: 'dead-letter' }), 'deadLetterPath: required with oversizedRecord "dead-letter"')
  assertThrows(() => new KinesisWriter({ ...BASE, maxConcurrentRequests: 0 }), 'maxConcurrentRequests: expected an integer from 1 to 64, got 0')
  assertThrows(() => new KinesisWriter({ ...BASE, endpoint: 'localhost:4568' }), 'endpoint: expected an http:// or https:// URL')
})

test('kinesis writer: publish before init is an error', async () => {
  const writer = new KinesisWriter(BASE)
  await assertRejects(
    () => writer.publish([{ change: rowChange(1), data: new TextEncoder().encode('{}'), partitionKey: '' }]),
    'KinesisWriter.publish called before init',
  )
})
