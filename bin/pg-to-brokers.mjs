#!/usr/bin/env node
// The npm bin. An installed package has no src/ (package.json "files"): it runs the bundle. A checkout
// runs the TypeScript sources through tsx, so that a dist/ left by an earlier build never runs
// stale code in place of the sources.
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const sources = join(root, 'src', 'cli', 'entry.ts')
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api')
  register()
  await import(pathToFileURL(sources).href)
} else {
  await import(pathToFileURL(join(root, 'dist', 'pg-to-brokers.mjs')).href)
}
