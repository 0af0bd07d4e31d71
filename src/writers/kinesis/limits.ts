/**
 * @module Kinesis service limits (PutRecords API reference, "Quotas and limits"), and the sizes the
 * writer measures against them: bytes are UTF-8 bytes of the data plus the PartitionKey.
 */

/** Most records in one PutRecords request. */
export const KINESIS_MAX_RECORDS = 500
/** Most bytes in one PutRecords request, data and partition keys together (5 MiB). */
export const KINESIS_MAX_REQUEST_BYTES = 5 * 1024 * 1024
/** Most bytes in one record, data and partition key together (1 MiB). */
export const KINESIS_MAX_RECORD_BYTES = 1024 * 1024
/** Longest PartitionKey, in Unicode characters. */
export const KINESIS_MAX_PARTITION_KEY_LENGTH = 256
/** Hash keys (MD5 of the partition key, or ExplicitHashKey) run from 0 to 2^128 - 1. */
export const KINESIS_MAX_HASH_KEY = (1n << 128n) - 1n
/** Shards per ListShards page (the API's maximum). */
export const KINESIS_LIST_SHARDS_PAGE = 1000
