/**
 * @module Writer type "kinesis" as the config and the CLI see it: its section's schema, flags and
 * environment variables with their help, the region fallback from AWS_REGION, and a factory that
 * loads the Kinesis code only when chosen.
 */
import * as v from 'valibot'
import { strict } from '../../fields.ts'
import { defineWriter, type WriterSection, type WriterSetting } from '../descriptor.ts'
import { KINESIS_DEFAULTS, KINESIS_OPTION_ENTRIES, kinesisProblems, regionOfArn } from './options.ts'

/** Environment variables of the Kinesis writer. AWS_REGION / AWS_DEFAULT_REGION are only fallbacks (see `fallback`). */
export const KINESIS_ENV = {
  stream: 'PG_TO_BROKERS_KINESIS_STREAM',
  endpoint: 'PG_TO_BROKERS_KINESIS_ENDPOINT',
} as const

/** A stream given as text is a name, or an ARN when it starts with "arn:". */
function setStream(section: WriterSection, text: string): undefined {
  if (text.startsWith('arn:')) section.streamArn = text
  else section.streamName = text
}

const SETTINGS: readonly WriterSetting[] = [
  {
    key: 'streamName',
    flag: '--kinesis-stream',
    arg: '<name|arn>',
    env: KINESIS_ENV.stream,
    trim: true,
    apply: setStream,
    help: ['the stream (required; a value starting with arn: is a stream ARN)', `env ${KINESIS_ENV.stream}`],
  },
  {
    key: 'region',
    flag: '--kinesis-region',
    arg: '<region>',
    help: ['e.g. us-east-1 (required); else AWS_REGION, else AWS_DEFAULT_REGION,', 'else the region in the stream ARN'],
  },
  {
    key: 'endpoint',
    flag: '--kinesis-endpoint',
    arg: '<url>',
    env: KINESIS_ENV.endpoint,
    trim: true,
    help: ['endpoint override: a VPC endpoint, or a local server such as', `http://127.0.0.1:4568; env ${KINESIS_ENV.endpoint}`],
  },
  {
    key: 'aggregation',
    flag: '--kinesis-aggregation',
    help: ['pack records into KPL aggregated records (read them with the KCL or', 'a KPL de-aggregator); default off'],
  },
]

const STREAM_REQUIRED =
  `required for writer type "kinesis"; set --kinesis-stream, ${KINESIS_ENV.stream}, ` + `or writer.streamName (or writer.streamArn) in the config file`

export const kinesisWriter = defineWriter({
  type: 'kinesis',
  schema: strict({ type: v.literal('kinesis'), ...KINESIS_OPTION_ENTRIES }, ' for writer type "kinesis"', {
    region: 'required for writer type "kinesis"; set --kinesis-region, AWS_REGION (or AWS_DEFAULT_REGION), or writer.region in the config file',
  }),
  settings: SETTINGS,
  groupNames: { flags: 'a --kinesis-* flag', env: 'a PG_TO_BROKERS_KINESIS_* variable' },
  help: {
    title: 'Kinesis writer (--writer kinesis; any --kinesis-* flag or PG_TO_BROKERS_KINESIS_* variable implies it):',
    notes: [
      'Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY(/AWS_SESSION_TOKEN), else the AWS_PROFILE',
      'profile in ~/.aws/credentials or ~/.aws/config (static keys), else the ECS/EKS container',
      'endpoint, else EC2 instance metadata (IMDSv2). Record: Data = the record, PartitionKey = the',
      'partition key (table + primary-key values by default). Per partition key, no record is stored',
      'after a later one, even when PutRecords fails partly. Only in the config file: writer.partitionKey',
      '("row", "table" or "constant"), writer.constantKey, writer.explicitHashKey (false),',
      `writer.maxConcurrentRequests (${KINESIS_DEFAULTS.maxConcurrentRequests}), writer.maxAttempts (${KINESIS_DEFAULTS.maxAttempts}), ` +
        `writer.maxRetryTimeMs (${KINESIS_DEFAULTS.maxRetryTimeMs}),`,
      `writer.requestTimeoutMs (${KINESIS_DEFAULTS.requestTimeoutMs}), writer.oversizedRecord ("fail" or "dead-letter"),`,
      'writer.deadLetterPath.',
    ],
  },
  /**
   * The region when no file or flag gave one: AWS_REGION, else AWS_DEFAULT_REGION, else the region
   * inside streamArn. Only fallbacks (not overrides, unlike other variables), because AWS sets
   * AWS_REGION in its runtimes on its own, and a region written in the config file should not be
   * silently replaced by it.
   */
  fallback(section, env) {
    if (section.region !== undefined) return section
    const region = env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || regionOfArn(section.streamArn)
    return region === undefined ? section : { ...section, region }
  },
  problems(section) {
    const problems = kinesisProblems(section, (key) => `writer.${key}`)
    return problems.map(({ key, problem, missing }) => `writer.${key}: ${missing && key === 'streamName' ? STREAM_REQUIRED : problem}`)
  },
  async create(section, { logger }) {
    // Imported only now, so Kinesis code (signing, MD5, aggregation, credentials) loads only for those who use it.
    const { KinesisWriter } = await import('./mod.ts')
    const { type: _, ...options } = section
    return new KinesisWriter({ ...options, logger })
  },
})
