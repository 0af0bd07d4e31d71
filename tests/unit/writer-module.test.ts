import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { ConfigError, ENV, loadConfig } from '../../src/config/load.ts'
import { createWriter } from '../../src/writers/registry.ts'
import { PgToBrokersError } from '../../src/errors.ts'

const URL = 'postgres://u@127.0.0.1:5432/db'

function problems(argv: string[], env: Record<string, string> = {}, fileText?: string): string[] {
  try {
    loadConfig({ argv, env, ...(fileText === undefined ? {} : { fileText, filePath: 'c.json' }) })
    return []
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues]
    throw error
  }
}

test('writer module: an http:, https:, npm: or jsr: module needs explicit consent; a local one does not', () => {
  for (const path of ['https://example.com/w.js', 'http://10.0.0.1/w.mjs', 'npm:pg-writer@1', 'jsr:@me/writer', 'HTTPS://example.com/w.js']) {
    const found = problems(['--postgres-url', URL, '--writer-module', path])
    assertEquals(found.length, 1, `one problem for ${path}: ${found.join(' | ')}`)
    assert(found[0]!.startsWith(`writer.path: "${path}" is a remote module: its code is fetched and run`), found[0]!)
    assert(found[0]!.includes('--allow-remote-writer-module'), 'says how to allow it')
  }
  assertEquals(problems(['--postgres-url', URL, '--writer-module', './w.ts']), [])
  assertEquals(problems(['--postgres-url', URL, '--writer-module', 'file:///srv/w.mjs']), [])
  // The three ways to consent: flag, environment, config file.
  assertEquals(problems(['--postgres-url', URL, '--writer-module', 'npm:w', '--allow-remote-writer-module']), [])
  assertEquals(problems(['--postgres-url', URL, '--writer-module', 'npm:w'], { [ENV.allowRemoteWriterModule]: 'true' }), [])
  const file = JSON.stringify({ postgres: { url: URL }, writer: { type: 'module', path: 'jsr:@me/w', allowRemote: true } })
  assertEquals(problems([], {}, file), [])
  // Consent does not leak into another writer, and a URL's credentials are never shown.
  assertEquals(problems(['--postgres-url', URL, '--file', 'x.jsonl', '--allow-remote-writer-module']), [
    'writer.allowRemote: --allow-remote-writer-module applies only to writer type "module", not "file"',
  ])
  const secret = problems(['--postgres-url', URL, '--writer-module', 'https://me:tok3n@example.com/w.js'])
  assert(secret.length === 1 && !secret[0]!.includes('tok3n'), secret.join(' | '))
})

test('writer module: createWriter refuses a remote module without allowRemote, before fetching anything', async () => {
  let fetched = false
  const resolve = (path: string) => ((fetched = true), path)
  const error = await createWriter({ type: 'module', path: 'https://me:tok3n@example.invalid/w.js', options: {} }, resolve).then(
    () => undefined,
    (e: unknown) => e,
  )
  assert(error instanceof PgToBrokersError && error.code === 'writer_module_remote', String(error))
  assert(!(error as Error).message.includes('tok3n'), (error as Error).message)
  assert(!fetched, 'nothing was resolved or imported')
})
