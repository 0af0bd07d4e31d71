/**
 * The replication stream reads CopyData through postgres.js internals that its public API does
 * not promise (src/pg/replication.ts, src/pg/read-pacing.ts): the CopyBoth Duplex's `push`, whose
 * false return pauses the socket, and `_read`, which resumes it. The version is pinned exactly;
 * this test fails loudly when the installed driver is another version or drives the stream
 * differently, so an upgrade is a decision, made with the benchmarks (bench/) run again.
 */
import { readFileSync } from 'node:fs'
import { test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'

const ROOT = new URL('../../', import.meta.url)
const PINNED = '3.4.9'

function text(path: string): string {
  return readFileSync(new URL(path, ROOT), 'utf8')
}

test('driver contract: postgres.js is pinned to the version whose CopyBoth internals the replication stream relies on', () => {
  const packageJson = JSON.parse(text('package.json')) as { dependencies: Record<string, string> }
  const denoJson = JSON.parse(text('deno.json')) as { imports: Record<string, string> }
  assertEquals(packageJson.dependencies.postgres, PINNED, 'package.json pins postgres exactly')
  assertEquals(denoJson.imports.postgres, `npm:postgres@${PINNED}`, 'deno.json pins postgres exactly')
  const installed = JSON.parse(text('node_modules/postgres/package.json')) as { version: string }
  assertEquals(installed.version, PINNED, 'the installed postgres.js')
})

test('driver contract: CopyData goes through push (false pauses the socket) and the Duplex read resumes it', () => {
  const connection = text('node_modules/postgres/src/connection.js')
  assert(connection.includes('stream && (stream.push(x.subarray(5)) || socket.pause())'), 'CopyData: push(payload) || socket.pause()')
  assert(
    /function CopyBothResponse\(\) \{\s*stream = new Stream\.Duplex\(\{\s*autoDestroy: true,\s*read\(\) \{ socket\.resume\(\) \}/.test(connection),
    'CopyBothResponse: a Duplex whose read() resumes the socket',
  )
  assert(connection.includes('stream && stream.push(null)'), 'CopyDone: push(null)')
})
