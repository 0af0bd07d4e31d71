// The file writer's durability beyond the data: a new file's directory entry is fsynced once, seen
// in the system calls (strace) of a real run on the suite's runtime.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { skip, test } from '../harness.ts'
import { assert, assertEquals } from '../assert.ts'
import { REPO_ROOT, scriptCommand } from './process.ts'

const FIXTURE = `${REPO_ROOT}tests/integration/fixtures/append-one-line.ts`

/** Runs the fixture under `strace -f`; resolves with the trace of open and fsync calls. */
function traced(path: string, trace: string): Promise<string> {
  const { command, args } = scriptCommand(FIXTURE)
  return new Promise((resolve, reject) => {
    execFile(
      'strace',
      ['-f', '-qq', '-e', 'trace=open,openat,fsync,fdatasync', '-o', trace, command, ...args, path],
      { cwd: REPO_ROOT, timeout: 60_000 },
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`strace ${command} failed: ${error.message}\n${stderr}`))
        else resolve(readFileSync(trace, 'utf8'))
      },
    )
  })
}

/** The descriptors the directory was opened as, and whether any of them was fsynced. */
function directorySyncs(trace: string, directory: string): { opened: number; synced: boolean } {
  const fds = [...trace.matchAll(new RegExp(`open(?:at)?\\([^"]*"${directory.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/?", [^)]*\\)\\s*=\\s*(\\d+)`, 'g'))].map(
    (m) => m[1]!,
  )
  const synced = fds.some((fd) => new RegExp(`\\bf(?:data)?sync\\(${fd}\\)\\s*=\\s*0`).test(trace))
  return { opened: fds.length, synced }
}

test('file writer: the directory of a file it creates is fsynced once; an existing file is not followed by one', async () => {
  const available = await new Promise<boolean>((resolve) => execFile('strace', ['-qq', '-e', 'trace=none', 'true'], (error) => resolve(!error)))
  if (!available) skip('strace is missing or may not trace here (ptrace not permitted)')
  const directory = mkdtempSync(join(tmpdir(), 'pgtb-dirsync-'))
  const traces = mkdtempSync(join(tmpdir(), 'pgtb-trace-'))
  try {
    const path = join(directory, 'changes.jsonl')
    const created = directorySyncs(await traced(path, join(traces, 'created.trace')), directory)
    assert(created.opened >= 1 && created.synced, `the directory was opened and fsynced after the creation: ${JSON.stringify(created)}`)
    const reopened = directorySyncs(await traced(path, join(traces, 'reopened.trace')), directory)
    assertEquals(reopened, { opened: 0, synced: false }, 'no directory fsync for an existing file')
    assertEquals(readFileSync(path, 'utf8'), '{"id":"0/1:0"}\n{"id":"0/1:0"}\n')
  } finally {
    rmSync(directory, { recursive: true, force: true })
    rmSync(traces, { recursive: true, force: true })
  }
})
