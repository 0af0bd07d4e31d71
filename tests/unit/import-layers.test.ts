// Imports point one way: cli/ reads flags and prints help on top of config/, which never reaches up
// into cli/; the library entry points load neither (so a program using a writer never pulls the CLI).
import { readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from '../harness.ts'
import { assertEquals } from '../assert.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
// Static imports and re-exports only: a dynamic import() is loaded on demand, which is the point of it.
const STATIC_IMPORT = /^(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'/gm

/** Every source file `entry` loads through static imports, relative to the repository root. */
function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    for (const match of readFileSync(join(ROOT, file), 'utf8').matchAll(STATIC_IMPORT)) {
      visit(relative(ROOT, join(ROOT, dirname(file), match[1]!)))
    }
  }
  visit(entry)
  return seen
}

test('import layers: nothing in config/ or the layers below it imports cli/', () => {
  // The walk itself must see imports, or the checks below would pass on nothing.
  const cli = staticClosure('src/cli/main.ts')
  assertEquals(
    ['src/config/load.ts', 'src/writers/registry.ts', 'src/writers/kafka/options.ts'].filter((file) => !cli.has(file)),
    [],
  )
  const below = ['src/config/load.ts', 'src/config/schema.ts', 'src/writers/registry.ts']
  const reached = below.flatMap((entry) => [...staticClosure(entry)]).filter((file) => file.startsWith('src/cli/'))
  assertEquals([...new Set(reached)], [])
})

test('import layers: mod.ts and the writer entry points load neither the CLI nor the config', () => {
  for (const entry of ['mod.ts', 'src/writers/kafka/mod.ts', 'src/writers/kinesis/mod.ts']) {
    const reached = [...staticClosure(entry)].filter((file) => file.startsWith('src/cli/') || file.startsWith('src/config/'))
    assertEquals(reached, [], `${entry} loads`)
  }
})
