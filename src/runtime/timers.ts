/** @module Scheduling after the current round of I/O callbacks (Node, Deno and Bun all have setImmediate). */

/** Runs `callback` once the I/O events being delivered now are all handled, before new ones are polled. */
export function afterIo(callback: () => void): void {
  setImmediate(callback)
}
