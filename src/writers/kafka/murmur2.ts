/** @module The Java Kafka client's key → partition hash (murmur2), so a key lands where other clients put it. */

const SEED = 0x9747b28c
const M = 0x5bd1e995

/**
 * The partition of a key among `partitions`, as the Java client's default partitioner picks it for
 * a keyed record: `toPositive(murmur2(key)) % partitions`.
 */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions
}

/** MurmurHash2, 32-bit, with the seed and the little-endian word order of org.apache.kafka.common.utils.Utils.murmur2. */
export function murmur2(data: Uint8Array): number {
  const length = data.length
  let h = SEED ^ length
  const words = length >>> 2
  for (let w = 0; w < words; w++) {
    const i = w << 2
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    k = Math.imul(k, M)
    k ^= k >>> 24
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }
  const tail = words << 2
  switch (length & 3) {
    case 3:
      h ^= data[tail + 2]! << 16
    // falls through
    case 2:
      h ^= data[tail + 1]! << 8
    // falls through
    case 1:
      h ^= data[tail]!
      h = Math.imul(h, M)
  }
  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h
}
