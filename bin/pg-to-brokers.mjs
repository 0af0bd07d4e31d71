#!/usr/bin/env node
// The npm bin. An installed package has no src/ (package.json "files"): it runs the bundle. A checkout
// runs the TypeScript sources through tsx, so that a dist/ left by an earlier build never runs
// stale code in place of the sources.
//
// On Node with process.execve (22.15+, 23.11+) the bin first replaces itself, once, with the same
// command plus NODE_FLAGS: V8's young generation otherwise grows to 32 MB under a steady stream,
// and the garbage it holds raises the peak RSS by 30-40 MB. execve keeps the PID, so signals, the
// exit status and a supervisor's view are the process's own. Node without execve runs as it was
// started: a child process would keep a second Node resident (about 40 MB RSS) and, with signals
// forwarded, get a terminal's Ctrl-C or a systemd stop twice (the CLI exits at once, without its
// clean stop, on a second signal). Flags the user set (command line or NODE_OPTIONS) are left alone.
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join } from 'node:path'
import process from 'node:process'

const NODE_FLAGS = ['--max-semi-space-size=1']
/** Set in the re-executed process: never re-execute twice, whatever the flags look like. */
const REEXEC_GUARD = 'PG_TO_BROKERS_NODE_FLAGS'
/** Commands that print and exit: a second start of Node would only slow them down. */
const QUICK_COMMANDS = new Set(['help', '--help', '-h', 'version', '--version'])

function reexecWithFlags() {
  if (typeof process.execve !== 'function' || process.env[REEXEC_GUARD] !== undefined) return
  const command = process.argv[2]
  if (command === undefined || QUICK_COMMANDS.has(command)) return
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
  const name = (arg) => arg.split('=')[0].replaceAll('_', '-')
  const flags = NODE_FLAGS.filter((flag) => !given.some((arg) => name(arg) === name(flag)))
  if (flags.length === 0) return
  try {
    process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], {
      ...process.env,
      [REEXEC_GUARD]: flags.join(' '),
    })
  } catch {
    // Not replaced (a sandbox refusing execve): run as started, with V8's default young generation.
  }
}

reexecWithFlags()
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const sources = join(root, 'src', 'cli', 'entry.ts')
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api')
  register()
  await import(pathToFileURL(sources).href)
} else {
  await import(pathToFileURL(join(root, 'dist', 'pg-to-brokers.mjs')).href)
}
