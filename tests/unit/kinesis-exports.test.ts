import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import * as kinesis from '../../src/writers/kinesis/mod.ts'

/**
 * What `pg-to-brokers/kinesis` exports at run time (types vanish): what users construct or call.
 * Helpers (MD5, base64, limits, the client, shard maps) stay internal; a change here is a change of the public API.
 */
const KINESIS_API = ['CredentialProvider', 'KinesisWriter', 'deaggregate']

test('kinesis exports: the ./kinesis entry exports the writer, credentials and the de-aggregator, nothing else', () => {
  assertEquals(Object.keys(kinesis).sort(), KINESIS_API)
  const writer = new kinesis.KinesisWriter({
    region: 'us-east-1',
    streamName: 'orders',
    credentials: kinesis.CredentialProvider.fromStatic({ accessKeyId: 'AKID', secretAccessKey: 'not-real' }),
  })
  assert(writer instanceof kinesis.KinesisWriter, 'constructible from the entry point alone')
  const plain = { partitionKey: 'k', data: new TextEncoder().encode('{}') }
  assertEquals(kinesis.deaggregate(plain), [plain])
})
