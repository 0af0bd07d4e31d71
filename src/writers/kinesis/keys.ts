/**
 * @module Partition keys and hash keys: how a record's key becomes a Kinesis PartitionKey, which
 * 128-bit hash key Kinesis derives from it, and which open shard owns a hash key.
 */
import { md5Hex } from '../../runtime/digest.ts'
import { KINESIS_MAX_PARTITION_KEY_LENGTH } from './limits.ts'

/** An open shard and the hash keys it owns (both ends inclusive). */
export interface Shard {
  readonly shardId: string
  readonly startingHashKey: bigint
  readonly endingHashKey: bigint
}

/** Characters of a long key kept before its hash: enough to recognise the table and row. */
const LONG_KEY_PREFIX = 200

/**
 * The PartitionKey sent for a record key. Keys of at most 256 characters are sent as they are.
 * Longer keys (Kinesis rejects them) become their first 200 characters, "#", and the MD5 of the
 * whole key in hex: deterministic, so a re-sent record gets the same key and the same shard, and
 * two long keys share a PartitionKey only if they share the prefix and collide in MD5.
 */
export function kinesisPartitionKey(key: string): string {
  if (key.length <= KINESIS_MAX_PARTITION_KEY_LENGTH) return key
  let prefix = key.slice(0, LONG_KEY_PREFIX)
  // Do not split a surrogate pair: a lone surrogate is not valid UTF-8.
  if (/[\uD800-\uDBFF]$/.test(prefix)) prefix = prefix.slice(0, -1)
  return `${prefix}#${md5Hex(key)}`
}

/** The hash key Kinesis derives from a PartitionKey: the MD5 of its UTF-8 bytes as a big-endian 128-bit integer. */
export function hashKeyOf(partitionKey: string): bigint {
  return BigInt('0x' + md5Hex(partitionKey))
}

/** The open shards of a stream, by hash-key range. */
export class ShardMap {
  readonly shards: readonly Shard[]

  /** @throws Error when there is no shard. */
  constructor(shards: readonly Shard[]) {
    if (shards.length === 0) throw new Error('the stream has no open shard')
    this.shards = [...shards].sort((a, b) => (a.startingHashKey < b.startingHashKey ? -1 : 1))
  }

  /** The shard owning `hashKey` (binary search over the sorted ranges). */
  shardFor(hashKey: bigint): Shard {
    let low = 0
    let high = this.shards.length - 1
    while (low < high) {
      const middle = (low + high + 1) >> 1
      if (this.shards[middle]!.startingHashKey <= hashKey) low = middle
      else high = middle - 1
    }
    return this.shards[low]!
  }

  get(shardId: string): Shard | undefined {
    return this.shards.find((shard) => shard.shardId === shardId)
  }

  /**
   * The ExplicitHashKey that spreads partition keys evenly by count over the open shards: the
   * shard is the key's MD5 modulo the shard count, the hash key is that shard's StartingHashKey.
   * A key keeps its shard while the set of open shards is unchanged.
   */
  evenHashKey(partitionKey: string): bigint {
    const shard = this.shards[Number(hashKeyOf(partitionKey) % BigInt(this.shards.length))]!
    return shard.startingHashKey
  }
}
