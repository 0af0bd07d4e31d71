// The built artifacts as users get them, each streaming a small workload from the real PostgreSQL:
// the CLI bundle on Node, Deno and Bun (copied away from node_modules), the Bun and Deno
// executables, writer modules an executable loads at run time, and the Kafka writer inside them.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { skip, test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { artifact, DIST_TEST_TIMEOUT_MS, fromFile, fromStdout, streamWorkload } from './artifacts.ts'
import { currentRuntime, FixtureProcess, REPO_ROOT } from './process.ts'
import { sqlClient, TEST_URL, uniqueName } from './support.ts'
import { importAsDataUrl } from '../../src/runtime/io.ts'

const WRITER_MODULE = join(REPO_ROOT, 'tests', 'integration', 'fixtures', 'file-writer-module.mjs')

for (const name of ['bundle on node', 'bundle on deno', 'bundle on bun', 'bun executable', 'deno executable']) {
  test(
    `distribution: ${name} streams committed changes to stdout`,
    async () => {
      const a = await artifact(name)
      if (a.missing) skip(a.missing)
      const lastValue = `zwei ✓ "${name}"`
      await streamWorkload(a.command, [], fromStdout(lastValue), lastValue)
    },
    { timeoutMs: DIST_TEST_TIMEOUT_MS },
  )
}

for (const [name, extension] of [
  ['bun executable', 'mjs'],
  ['bun executable', 'ts'],
  ['deno executable', 'mjs'],
] as const) {
  test(
    `distribution: ${name} loads a .${extension} writer module given at run time`,
    async () => {
      const a = await artifact(name)
      if (a.missing) skip(a.missing)
      const folder = await mkdtemp(join(tmpdir(), 'pgtb-writer-'))
      try {
        const module = join(folder, `file-writer-module.${extension}`)
        const source = await readFile(WRITER_MODULE, 'utf8')
        // The TypeScript variant is the same module with type annotations, which the runtime must strip.
        await writeFile(
          module,
          extension === 'ts'
            ? source
                .replace('fileWriterModule(options)', 'fileWriterModule(options: { path?: unknown })')
                .replace('publish(records)', 'publish(records: { data: Uint8Array }[]): Promise<void>')
            : source,
        )
        const output = join(folder, 'records.jsonl')
        const lastValue = `drei ✓ "${name} .${extension}"`
        await streamWorkload(a.command, ['--writer-module', module, '--writer-option', `path=${output}`], fromFile(output), lastValue)
      } finally {
        await rm(folder, { recursive: true, force: true })
      }
    },
    { timeoutMs: DIST_TEST_TIMEOUT_MS },
  )
}

for (const name of ['bun executable', 'deno executable']) {
  test(
    `distribution: ${name} carries the Kafka writer and its client library`,
    async () => {
      const a = await artifact(name)
      if (a.missing) skip(a.missing)
      const sql = sqlClient()
      const slot = uniqueName('s')
      const folder = await mkdtemp(join(tmpdir(), 'pgtb-kafka-'))
      try {
        // Nothing listens on port 1: getting as far as "cannot reach the Kafka brokers" means the
        // writer chunk, the client library and its WebAssembly all loaded inside the executable.
        const config = join(folder, 'cdc.json')
        await writeFile(config, JSON.stringify({ writer: { type: 'kafka', brokers: ['127.0.0.1:1'], topic: 'cdc', connectTimeoutMs: 200 } }))
        const run = new FixtureProcess(
          a.command,
          { PG_TO_BROKERS_POSTGRES_URL: TEST_URL },
          ['run', '--config', config, '--slot', slot, '--publication', slot, '--drop-slot-on-exit'],
          folder,
        )
        const status = await run.waitForExit(30_000)
        assertEquals(status.code, 1, `exit code (stderr: ${run.stderr})`)
        assert(run.stderr.includes('code=kafka_unreachable'), `stderr: ${run.stderr}`)
      } finally {
        await sql`select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${slot} and not active`
        await sql.unsafe(`drop publication if exists ${slot}`)
        await sql.end()
        await rm(folder, { recursive: true, force: true })
      }
    },
    { timeoutMs: DIST_TEST_TIMEOUT_MS },
  )
}

test('distribution: a writer module imported as a data: URL works (how a deno compile executable loads it)', async () => {
  if (currentRuntime() === 'bun') skip('Bun imports data: URLs as text; only Deno executables use this path')
  const folder = await mkdtemp(join(tmpdir(), 'pgtb-data-url-'))
  try {
    const module = await importAsDataUrl(pathToFileURL(WRITER_MODULE).href)
    const output = join(folder, 'out.jsonl')
    const writer = (module.default as (options: object) => { publish(records: { data: Uint8Array }[]): Promise<void> })({ path: output })
    const utf8 = new TextEncoder()
    await writer.publish([{ data: utf8.encode('{"n":1}') }, { data: utf8.encode('{"n":2}') }])
    assertEquals(await readFile(output, 'utf8'), '{"n":1}\n{"n":2}\n')
    const ts = join(folder, 'writer.ts')
    await writeFile(ts, 'export default () => ({ publish: async () => {} })\n')
    const error = await importAsDataUrl(pathToFileURL(ts).href).then(
      () => undefined,
      (e: Error) => e,
    )
    assert(error?.message.includes('cannot load a TypeScript writer module'), `error: ${error?.message}`)
  } finally {
    await rm(folder, { recursive: true, force: true })
  }
})
