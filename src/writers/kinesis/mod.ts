/**
 * @module The Kinesis writer entry point (`pg-to-brokers/kinesis`), kept apart from the main module
 * so that programs not using Kinesis never load it. Exports what users construct, pass or
 * implement: the writer, its options, credentials, and the de-aggregator for reading KPL records.
 */
export { KinesisWriter } from './writer.ts'
export type { KinesisWriterOptions, PartitionKeyStrategy } from './options.ts'
export { CredentialProvider, type AwsCredentials, type CredentialSources } from './credentials.ts'
export { deaggregate, type UserRecord } from './aggregation.ts'
