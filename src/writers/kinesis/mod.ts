/**
 * @module The Kinesis writer entry point (`pg-to-brokers/kinesis`), kept apart from the main module
 * so that programs not using Kinesis never load it.
 */
export { KinesisWriter } from './writer.ts'
export { KINESIS_DEFAULTS, type KinesisWriterOptions, type PartitionKeyStrategy } from './options.ts'
export { CredentialProvider, type AwsCredentials, type CredentialSources } from './credentials.ts'
export { aggregate, deaggregate, isAggregated, type UserRecord } from './aggregation.ts'
export { KinesisClient, KinesisApiError, KinesisNetworkError, type StreamTarget } from './client.ts'
export { hashKeyOf, kinesisPartitionKey, ShardMap, type Shard } from './keys.ts'
export { encodeBase64, decodeBase64 } from './base64.ts'
export { KINESIS_MAX_RECORDS, KINESIS_MAX_RECORD_BYTES, KINESIS_MAX_REQUEST_BYTES, KINESIS_MAX_PARTITION_KEY_LENGTH } from './limits.ts'
