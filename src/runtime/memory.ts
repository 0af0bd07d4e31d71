/** @module The process's resident memory, from `node:process` (Node, Deno 2 and Bun all provide memoryUsage.rss). */
import process from 'node:process'

/** Resident set size in bytes. `memoryUsage.rss()` skips the heap statistics that `memoryUsage()` gathers. */
export function residentMemoryBytes(): number {
  return process.memoryUsage.rss()
}
