#!/usr/bin/env node
// Runs the CLI from the built bundle when present (installed package), else from the TypeScript
// sources through tsx (a checkout after `npm install`).
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bundle = join(root, 'dist', 'pg-to-brokers.mjs')
if (existsSync(bundle)) {
  await import(pathToFileURL(bundle).href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(pathToFileURL(join(root, 'src', 'cli', 'entry.ts')).href)
}
