// The version the CLI prints, package.json and deno.json agree (a release bumps all three).
import { readFileSync } from 'node:fs'
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'
import { VERSION } from '../../src/version.ts'

const read = (file: string) => JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')) as { version: string }

test('VERSION matches package.json and deno.json', () => {
  assertEquals(read('package.json').version, VERSION)
  assertEquals(read('deno.json').version, VERSION)
})
