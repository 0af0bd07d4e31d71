// Renamed settings keep their old names as aliases: batch.queueDepth (was maxInFlightBatches) and format "classic" (also "seed").
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { ConfigError, ENV, loadConfig, type ConfigSources } from '../../src/config/load.ts'
import { HELP_TEXT } from '../../src/cli/help.ts'

const URL = 'postgres://u@127.0.0.1:5432/db'

/** The config and the deprecation notices loading it gave. */
function load(sources: Partial<ConfigSources>) {
  const notices: string[] = []
  const config = loadConfig({ env: { [ENV.url]: URL }, argv: [], ...sources, deprecated: (notice) => notices.push(notice) })
  return { config, notices }
}

function problems(sources: Partial<ConfigSources>): readonly string[] {
  try {
    load(sources)
  } catch (error) {
    if (error instanceof ConfigError) return error.issues
    throw error
  }
  return []
}

const file = (value: unknown) => ({ fileText: JSON.stringify(value), filePath: 'c.json' })

test('config names: batch.queueDepth from the file, --batch-queue-depth and PG_TO_BROKERS_BATCH_QUEUE_DEPTH sets the queue depth', () => {
  assertEquals(load({}).config.batch.maxInFlightBatches, 8)
  assertEquals(load(file({ batch: { queueDepth: 3 } })).config.batch.maxInFlightBatches, 3)
  assertEquals(load({ env: { [ENV.url]: URL, [ENV.batchQueueDepth]: '6' } }).config.batch.maxInFlightBatches, 6)
  assertEquals(load({ env: { [ENV.url]: URL, [ENV.batchQueueDepth]: '6' }, argv: ['--batch-queue-depth', '5'] }).config.batch.maxInFlightBatches, 5)
  assertEquals(load({ argv: ['--batch-queue-depth=2'] }).notices, [])
  assertEquals(problems({ argv: ['--batch-queue-depth', '0'] }), ['batch.queueDepth: expected an integer from 1 to 1024, got 0'])
})

test('config names: the old key batch.maxInFlightBatches still works, with a deprecation notice; both names at once is a problem', () => {
  const old = load(file({ batch: { maxInFlightBatches: 4 } }))
  assertEquals(old.config.batch.maxInFlightBatches, 4)
  assertEquals(old.notices, ['batch.maxInFlightBatches is deprecated: call it batch.queueDepth (the old name still works)'])
  assertEquals(load(file({ batch: { maxInFlightBatches: 4 } })).config, load(file({ batch: { queueDepth: 4 } })).config)
  assertEquals(problems({ ...file({ batch: { maxInFlightBatches: 4 } }), argv: ['--batch-queue-depth', '2'] }), [
    'batch.maxInFlightBatches: the old name of batch.queueDepth; give only batch.queueDepth',
  ])
  assertEquals(problems(file({ batch: { maxInFlightBatches: 0 } })), ['batch.maxInFlightBatches: expected an integer from 1 to 1024, got 0'])
})

test('config names: --format classic is the seed format; "seed" stays an alias from flags, environment and file', () => {
  assertEquals(load({}).config.format, 'seed')
  assertEquals(load({ argv: ['--format', 'classic'] }).config.format, 'seed')
  assertEquals(load({ argv: ['--format', 'seed'] }).config.format, 'seed')
  assertEquals(load({ env: { [ENV.url]: URL, [ENV.format]: 'classic' } }).config.format, 'seed')
  assertEquals(load(file({ format: 'classic' })).config.format, 'seed')
  assertEquals(load({ argv: ['--format', 'debezium'] }).config.format, 'debezium')
  assertEquals(load({ argv: ['--format', 'seed'] }).notices, [])
})

test('config names: help shows the new names and says what the old ones became', () => {
  for (const words of [
    '--batch-queue-depth',
    'PG_TO_BROKERS_BATCH_QUEUE_DEPTH',
    '"queueDepth": 8',
    'batch.maxInFlightBatches is the deprecated name of batch.queueDepth',
    '--format <classic|debezium>',
    'also called seed',
  ]) {
    assert(HELP_TEXT.includes(words), `help mentions ${words}`)
  }
})
