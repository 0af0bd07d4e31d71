/** @module The Kinesis writer's flags and environment variables, as config overrides (the schema checks the values). */
import type { KinesisOverrides } from '../config/kinesis.ts'

/** Environment variables of the Kinesis writer. AWS_REGION / AWS_DEFAULT_REGION are read by withKinesisRegion (config/kinesis.ts). */
export const KINESIS_ENV = {
  stream: 'PG_TO_BROKERS_KINESIS_STREAM',
  endpoint: 'PG_TO_BROKERS_KINESIS_ENDPOINT',
} as const

type TextSetter = (kinesis: KinesisOverrides, text: string) => void

/** A stream given as text is a name, or an ARN when it starts with "arn:". */
const setStream: TextSetter = (k, text) => {
  if (text.startsWith('arn:')) k.streamArn = text
  else k.streamName = text
}

/** Value flags: name, usage and what they set. Each implies writer type "kinesis". */
export const KINESIS_VALUE_FLAGS: readonly (readonly [string, string, TextSetter])[] = [
  ['--kinesis-stream', '<name|arn>', setStream],
  ['--kinesis-region', '<region>', (k, x) => void (k.region = x)],
  ['--kinesis-endpoint', '<url>', (k, x) => void (k.endpoint = x)],
]

/** Switches (each also has a --no- form). */
export const KINESIS_SWITCHES: readonly (readonly [string, (kinesis: KinesisOverrides, on: boolean) => void])[] = [
  ['--kinesis-aggregation', (k, on) => void (k.aggregation = on)],
]

/** The Kinesis settings the environment gives, or undefined when it gives none. */
export function kinesisFromEnv(get: (name: string) => string | undefined): KinesisOverrides | undefined {
  const kinesis: KinesisOverrides = {}
  const stream = get(KINESIS_ENV.stream)
  if (stream !== undefined) setStream(kinesis, stream.trim())
  const endpoint = get(KINESIS_ENV.endpoint)
  if (endpoint !== undefined) kinesis.endpoint = endpoint.trim()
  return Object.keys(kinesis).length > 0 ? kinesis : undefined
}
