/** @module The metrics listener's address: `host:port`, `[ipv6]:port`, or a bare port (then 127.0.0.1, loopback unless told otherwise). */
import * as v from 'valibot'

export interface ListenAddress {
  readonly host: string
  readonly port: number
}

const EXPECTED = 'expected host:port, [ipv6]:port or a port (then 127.0.0.1), e.g. 127.0.0.1:9187'
const HOST_NAME = /^(?=.{1,253}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/
const IPV6 = /^[0-9a-fA-F:.]+$/

/** The address `text` names, or undefined when it names none. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) return withPort('127.0.0.1', trimmed)
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(trimmed)
  if (bracketed) return IPV6.test(bracketed[1]!) && bracketed[1]!.includes(':') ? withPort(bracketed[1]!, bracketed[2]!) : undefined
  const plain = /^([^:[\]]+):(\d+)$/.exec(trimmed)
  if (plain && HOST_NAME.test(plain[1]!)) return withPort(plain[1]!, plain[2]!)
  return undefined
}

function withPort(host: string, portText: string): ListenAddress | undefined {
  const port = Number(portText)
  return Number.isInteger(port) && port >= 1 && port <= 65_535 ? { host, port } : undefined
}

/** metrics.listen in the schema: checked and turned into { host, port }. */
export const listenAddress = v.pipe(
  v.string(EXPECTED),
  v.check((text) => parseListenAddress(text) !== undefined, EXPECTED),
  v.transform((text) => parseListenAddress(text)!),
)
