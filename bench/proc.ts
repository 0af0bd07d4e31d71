/** @module Linux /proc readings for the benchmark: CPU ticks, resident memory, a process's descendants. */
import { readFileSync, readdirSync } from 'node:fs'

/** USER_HZ: /proc times are in clock ticks, 100 per second on every Linux this runs on. */
export const CLOCK_TICKS_PER_SECOND = 100

export interface CpuTimes {
  /** utime + stime of the process itself, in seconds. */
  readonly self: number
  /** cutime + cstime: CPU of children it has waited for, in seconds. */
  readonly children: number
}

/** CPU times from /proc/<pid>/stat, or undefined when the process is gone. */
export function readCpu(pid: number): CpuTimes | undefined {
  const text = readOrUndefined(`/proc/${pid}/stat`)
  return text === undefined ? undefined : parseStatCpu(text)
}

/**
 * Parses the text of a /proc/<pid>/stat file. The command name (field 2) may hold spaces and
 * parentheses, so fields are counted from the last ')'.
 */
export function parseStatCpu(text: string): CpuTimes {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // After the name, field 3 (state) is index 0, so utime (field 14) is index 11.
  const tick = (i: number) => Number(fields[i]) / CLOCK_TICKS_PER_SECOND
  return { self: tick(11) + tick(12), children: tick(13) + tick(14) }
}

export interface Memory {
  /** VmRSS in bytes. */
  readonly rss: number
  /** VmHWM (peak RSS so far) in bytes. */
  readonly hwm: number
}

/** VmRSS and VmHWM from /proc/<pid>/status, or undefined when the process is gone. */
export function readMemory(pid: number): Memory | undefined {
  const text = readOrUndefined(`/proc/${pid}/status`)
  if (text === undefined) return undefined
  return { rss: statusKb(text, 'VmRSS') * 1024, hwm: statusKb(text, 'VmHWM') * 1024 }
}

/** Every live descendant of `pid` (children, grandchildren, …), from /proc/<pid>/task/<tid>/children. */
export function descendants(pid: number): number[] {
  const found: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    const parent = queue.shift()!
    for (const child of childrenOf(parent)) {
      found.push(child)
      queue.push(child)
    }
  }
  return found
}

/** The 1-minute load average: how busy the (shared) machine was around a measurement. */
export function loadAverage(): number {
  return Number((readOrUndefined('/proc/loadavg') ?? '0').split(' ')[0])
}

function childrenOf(pid: number): number[] {
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return []
  }
  const children: number[] = []
  for (const task of tasks) {
    const text = readOrUndefined(`/proc/${pid}/task/${task}/children`) ?? ''
    for (const word of text.split(' ')) if (word !== '') children.push(Number(word))
  }
  return children
}

function statusKb(text: string, key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)
  return match ? Number(match[1]) : 0
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}
