/**
 * @module Summarises a V8 .cpuprofile of the Node runner (an esbuild bundle): self time per
 * function and per stage of the hot path. Functions are traced back to their source file through
 * the `// path/to/file.ts` comments esbuild writes before each module of an unminified bundle.
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: readonly number[]
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly startTime: number
  readonly endTime: number
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

export interface ProfileSummary {
  readonly totalMs: number
  /** Stage → share of all samples (0..1). */
  readonly stages: readonly (readonly [string, number])[]
  /** The heaviest functions: [name (file), share]. */
  readonly functions: readonly (readonly [string, number])[]
}

/** Source path prefix → the stage of the hot path it belongs to; first match wins. */
const STAGES: readonly (readonly [RegExp, string])[] = [
  [/^src\/pg\/replication\.ts$|^node_modules\/postgres\//, 'reading CopyData (postgres.js, replication.ts)'],
  [/^src\/pg\/pgoutput\//, 'pgoutput decoding'],
  [/^src\/pg\/values\//, 'value decoding'],
  [/^src\/change\/formats\//, 'record encoding'],
  [/^src\/change\//, 'change assembly'],
  [/^src\/pipeline\/batcher\.ts$/, 'batching'],
  [/^src\/pipeline\/checkpoint\.ts$/, 'status updates'],
  [/^src\/pipeline\//, 'pipeline loop'],
  [/^src\/writers\/|^src\/runtime\//, 'writer (stdout)'],
  [/^bench\//, 'bench runner'],
]

export function summariseProfile(profilePath: string, bundlePath: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as CpuProfile
  const modules = moduleStarts(readFileSync(bundlePath, 'utf8'))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parents = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id)
  const hits = new Map<number, number>()
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1)
  const total = profile.samples.length
  const stages = new Map<string, number>()
  const functions = new Map<string, number>()
  for (const [id, count] of hits) {
    const frame = byId.get(id)!.callFrame
    const file = sourceOf(frame, bundlePath, modules)
    const stage = stageOf(id, byId, parents, bundlePath, modules)
    stages.set(stage, (stages.get(stage) ?? 0) + count)
    const name = `${frame.functionName || '(anonymous)'} (${file || frame.url || 'native'})`
    functions.set(name, (functions.get(name) ?? 0) + count)
  }
  return {
    totalMs: (profile.endTime - profile.startTime) / 1000,
    stages: top(stages, total, 20),
    functions: top(functions, total, 25),
  }
}

/** Bundle line numbers (0-based) where each source module starts. */
function moduleStarts(bundle: string): { line: number; path: string }[] {
  const starts: { line: number; path: string }[] = []
  bundle.split('\n').forEach((text, line) => {
    const match = /^\/\/ ((?:src|bench|node_modules)\/\S+\.[cm]?[jt]s)$/.exec(text)
    if (match) starts.push({ line, path: match[1]! })
  })
  return starts
}

function sourceOf(frame: ProfileNode['callFrame'], bundlePath: string, modules: readonly { line: number; path: string }[]): string {
  if (!frame.url.endsWith(bundlePath.split('/').pop()!)) return ''
  let found = ''
  for (const start of modules) {
    if (start.line > frame.lineNumber) break
    found = start.path
  }
  return found
}

/**
 * The stage of a sampled frame. Builtins (TextDecoder, JSON.stringify, …) and Node internals count
 * for the nearest caller in a source file, so "value decoding" includes the TextDecoder it calls.
 */
function stageOf(
  id: number,
  byId: Map<number, ProfileNode>,
  parents: Map<number, number>,
  bundlePath: string,
  modules: readonly { line: number; path: string }[],
): string {
  const own = byId.get(id)!.callFrame
  if (own.functionName === '(garbage collector)') return 'garbage collection'
  if (own.functionName === '(idle)') return 'idle (waiting for the socket)'
  if (own.functionName === '(program)') return 'V8/runtime (program)'
  for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
    const file = sourceOf(byId.get(at)!.callFrame, bundlePath, modules)
    if (file) for (const [pattern, stage] of STAGES) if (pattern.test(file)) return stage
  }
  return own.url.startsWith('node:') ? 'Node internals (streams, sockets, timers)' : 'native/builtins'
}

function top(counts: Map<string, number>, total: number, n: number): [string, number][] {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, count]) => [name, count / total])
}
