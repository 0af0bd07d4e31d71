// The snapshot section: flags, environment variables and config file; bad values; the snapshot command's arguments.
import { test } from '../harness.ts'
import { assert, assertEquals, assertThrows } from '../assert.ts'
import { ENV, loadConfig, type ConfigSources } from '../../src/config/load.ts'
import { parseArgs } from '../../src/cli/args.ts'
import { HELP_TEXT } from '../../src/cli/help.ts'
import { configIssues } from './config-support.ts'

const URL = 'postgres://u:secret@127.0.0.1:5432/app'

const load = (sources: Partial<ConfigSources>) => loadConfig({ env: { [ENV.url]: URL }, argv: [], ...sources })
const file = (value: unknown) => ({ fileText: JSON.stringify(value), filePath: 'c.json' })

const problems = (sources: Partial<ConfigSources>): string[] => configIssues(() => load(sources))

test('config: snapshot defaults to mode never, chunks of 4096, one table at a time, progress auto, no tables of its own', () => {
  assertEquals(load({}).snapshot, { mode: 'never', chunkSize: 4096, parallelTables: 1, progress: 'auto' })
})

test('config: snapshot settings come from the file, then PG_TO_BROKERS_SNAPSHOT_*, then --snapshot-* flags', () => {
  const config = load({
    ...file({ snapshot: { mode: 'initial', chunkSize: 100, parallelTables: 2, tables: ['public.a'], progress: 'off' } }),
    env: { [ENV.url]: URL, [ENV.snapshotMode]: 'when_needed', [ENV.snapshotChunkSize]: '200', [ENV.snapshotTables]: 'b, "My Schema"."T"' },
    argv: ['--snapshot-chunk-size', '300', '--snapshot-parallel-tables=16', '--snapshot-progress', 'lines'],
  })
  assertEquals(config.snapshot, { mode: 'when_needed', chunkSize: 300, parallelTables: 16, tables: ['b', '"My Schema"."T"'], progress: 'lines' })
  assertEquals(load({ argv: ['--snapshot-mode', 'initial_only', '--snapshot-tables', 'x'] }).snapshot.mode, 'initial_only')
  assertEquals(load({ env: { [ENV.url]: URL, [ENV.snapshotParallelTables]: '3', [ENV.snapshotProgress]: 'bar' } }).snapshot, {
    mode: 'never',
    chunkSize: 4096,
    parallelTables: 3,
    progress: 'bar',
  })
})

test('config: bad snapshot values name the field, what is expected and what was given', () => {
  assertEquals(problems({ argv: ['--snapshot-mode', 'always'] }), ['snapshot.mode: expected "never", "initial", "initial_only" or "when_needed", got "always"'])
  assertEquals(problems({ argv: ['--snapshot-chunk-size', '0'] }), ['snapshot.chunkSize: expected an integer from 1 to 1000000, got 0'])
  assertEquals(problems({ env: { [ENV.url]: URL, [ENV.snapshotChunkSize]: 'big' } }), ['snapshot.chunkSize: expected an integer from 1 to 1000000, got "big"'])
  assertEquals(problems({ argv: ['--snapshot-chunk-size=1000001'] }), ['snapshot.chunkSize: expected an integer from 1 to 1000000, got 1000001'])
  assertEquals(problems({ argv: ['--snapshot-parallel-tables', '17'] }), ['snapshot.parallelTables: expected an integer from 1 to 16, got 17'])
  assertEquals(problems({ argv: ['--snapshot-parallel-tables', '1.5'] }), ['snapshot.parallelTables: expected an integer from 1 to 16, got 1.5'])
  assertEquals(problems({ argv: ['--snapshot-progress', 'fancy'] }), ['snapshot.progress: expected "auto", "bar", "lines" or "off", got "fancy"'])
  const [bad] = problems({ argv: ['--snapshot-tables', 'a.b.c'] })
  assert(bad?.startsWith('snapshot.tables[0]: expected table or schema.table'), bad)
  assertEquals(problems(file({ snapshot: { mode: 'initial', chunksize: 10 } })), [
    'snapshot.chunksize: unknown key (did you mean chunkSize?); allowed keys: mode, chunkSize, parallelTables, tables, progress',
  ])
  assertEquals(problems(file({ snapshot: 'initial' })), ['snapshot: expected an object, got "initial"'])
})

test('args: snapshot takes --tables, --where and --cancel; its own flags are refused elsewhere', () => {
  assertEquals(parseArgs(['snapshot', '--tables', 'a, public.b']).snapshot, { tables: ['a', 'public.b'], cancel: false })
  assertEquals(parseArgs(['snapshot', '--tables=a', '--where', 'id > 10']).snapshot, { tables: ['a'], where: 'id > 10', cancel: false })
  assertEquals(parseArgs(['snapshot', '--cancel', '--tables', 'a']).snapshot, { tables: ['a'], cancel: true })
  assertEquals(parseArgs(['snapshot', '--cancel']).snapshot, { tables: [], cancel: true })
  assertEquals(parseArgs(['run', '--tables', 'a']).snapshot, undefined)
  assertThrows(() => parseArgs(['snapshot']), 'snapshot: --tables is required')
  assertThrows(() => parseArgs(['snapshot', '--tables', 'a', '--where=']), 'snapshot: --where is empty')
  assertThrows(() => parseArgs(['snapshot', '--cancel', '--where', 'x']), 'snapshot: --where cannot go with --cancel')
  assertThrows(() => parseArgs(['run', '--where', 'id > 1']), '--where belongs to the snapshot command')
  assertThrows(() => parseArgs(['--slot', 's', '--cancel']), '--cancel belongs to the snapshot command')
  assertThrows(() => parseArgs(['snapshot', '--no-cancel']), 'unknown flag --no-cancel')
  assertThrows(() => parseArgs(['snapshto', '--tables', 'a']), 'did you mean snapshot?')
})

test('help: the snapshot command and its settings are described', () => {
  for (const words of ['pg-to-brokers snapshot --tables', '--snapshot-mode <mode>', 'initial_only', 'when_needed', '"snapshot": { "mode"']) {
    assert(HELP_TEXT.includes(words), `help mentions ${words}`)
  }
})
