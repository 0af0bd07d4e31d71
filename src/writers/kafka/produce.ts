/**
 * @module Produce requests built from whole encoded record batches, sent over the client's
 * connections with its metadata, its idempotent producer id and its retry policy. The client's own
 * `send` builds each record from a dozen small buffers; at tens of thousands of records a second
 * that garbage, not the network, was the writer's limit.
 */
import {
  GenericError,
  kGetApi,
  kGetConnection,
  kMetadata,
  kOptions,
  kPerformWithRetry,
  produceV7,
  produceV8,
  produceV9,
  produceV10,
  produceV11,
  Writer,
  type ClusterMetadata,
  type Connection,
} from '@platformatic/kafka'
import { bufferView } from '../../runtime/io.ts'
import type { KafkaProducer } from './client.ts'
import type { KafkaMessage } from './messages.ts'
import { partitionForKey } from './murmur2.ts'
import type { KafkaCompression } from './options.ts'
import { encodeRecordBatch, nextSequence } from './record-batch.ts'
import { utf8Length } from '../utf8.ts'

/** Produce's API key, and acks=all: every in-sync replica has the records before the broker answers. */
const PRODUCE = 0
const ACKS_ALL = -1
/** Produce v9 and later use compact (flexible) encodings and tagged fields (KIP-482). */
const FIRST_FLEXIBLE_VERSION = 9
const PARSERS: Readonly<Record<number, typeof produceV11.parseResponse>> = {
  7: produceV7.parseResponse,
  8: produceV8.parseResponse,
  9: produceV9.parseResponse,
  10: produceV10.parseResponse,
  11: produceV11.parseResponse,
}

/** The first arena; it grows to the largest send seen (a request holds at most maxRequestBytes of records)... */
const FIRST_ARENA_BYTES = 256 * 1024
/** ...but a batch larger than this (a huge record) gets memory of its own, so the arena does not stay that large. */
const MAX_ARENA_BATCH_BYTES = 4 * 1024 * 1024

const utf8 = new TextEncoder()

/** One partition's share of a send: its record batch and how many records it holds. */
interface PartitionBatch {
  readonly topic: string
  readonly partition: number
  readonly count: number
  readonly bytes: Uint8Array
}

/**
 * Sends messages for one idempotent producer: each partition's messages as one record batch
 * stamped with that partition's next sequence number, which advances only once the broker
 * acknowledged the batch (acks=all). A retried batch carries the same sequence, so the broker
 * writes it once; batches of one session go one at a time, so they never overtake each other.
 * A session lives as long as its producer (a new producer id starts the sequences at 0).
 */
export class ProduceSession {
  readonly #producer: KafkaProducer
  readonly #compression: KafkaCompression
  /** Next sequence number per "topic\0partition". */
  readonly #sequences = new Map<string, number>()
  /** Holds a key's UTF-8 bytes for hashing, reused (grown when a key is longer). */
  #keyScratch = new Uint8Array(256)
  /**
   * The record batches of the send in progress are cut from here, and the next send reuses it:
   * sends are one at a time, and a send resolves only when every request it wrote was answered,
   * so no byte of a batch is still to be written (a failed send ends the session, arena and all).
   * Half a megabyte of garbage less per request.
   */
  #arena = new Uint8Array(FIRST_ARENA_BYTES)
  #arenaUsed = 0

  constructor(producer: KafkaProducer, compression: KafkaCompression) {
    this.#producer = producer
    this.#compression = compression
  }

  /**
   * Resolves once the brokers acknowledged every message; retries what the client deems retriable
   * (leader moved, broker restarting) until the producer is closed. @throws the client's errors.
   */
  async send(messages: readonly KafkaMessage[]): Promise<void> {
    const producer = this.#producer
    if (producer.producerId === undefined) await producer.initIdempotentProducer({})
    const topics = [...new Set(messages.map((m) => m.topic))]
    const metadata = await producer.metadata({ topics })
    this.#arenaUsed = 0
    const pending = this.#encode(this.#byPartition(messages, metadata))
    await new Promise<void>((resolve, reject) => {
      producer[kPerformWithRetry]<void>(
        'produce',
        (done) => this.#attempt(pending, done),
        (error) => (error ? reject(error) : resolve()),
      )
    })
  }

  /** Messages per topic and partition, in their order (the Java client's partitioner for keys). */
  #byPartition(messages: readonly KafkaMessage[], metadata: ClusterMetadata): Map<string, Map<number, KafkaMessage[]>> {
    const topics = new Map<string, Map<number, KafkaMessage[]>>()
    for (const message of messages) {
      let partitions = topics.get(message.topic)
      if (partitions === undefined) topics.set(message.topic, (partitions = new Map()))
      const count = metadata.topics.get(message.topic)!.partitionsCount
      const partition = partitionForKey(this.#keyBytes(message.key), count)
      const list = partitions.get(partition)
      if (list === undefined) partitions.set(partition, [message])
      else list.push(message)
    }
    return topics
  }

  #encode(topics: Map<string, Map<number, KafkaMessage[]>>): PartitionBatch[] {
    const producerId = this.#producer.producerId!
    const producerEpoch = this.#producer.producerEpoch!
    const timestamp = Date.now()
    const batches: PartitionBatch[] = []
    for (const [topic, partitions] of topics) {
      for (const [partition, messages] of partitions) {
        const baseSequence = this.#sequences.get(`${topic}\0${partition}`) ?? 0
        const bytes = encodeRecordBatch(messages, { producerId, producerEpoch, baseSequence }, timestamp, this.#compression, this.#allocate)
        batches.push({ topic, partition, count: messages.length, bytes })
      }
    }
    return batches
  }

  /**
   * One attempt: what is not yet acknowledged goes to each partition's current leader, one
   * request per leader, all at once. Acknowledged partitions leave `pending` and advance their
   * sequence; the first error is reported (the client then decides whether to retry).
   */
  #attempt(pending: PartitionBatch[], done: (error: Error | null) => void): void {
    const producer = this.#producer
    producer[kMetadata]({ topics: [...new Set(pending.map((b) => b.topic))] }, (error, metadata) => {
      if (error || metadata === undefined) return done(error ?? new Error('no Kafka metadata'))
      const byLeader = new Map<number, PartitionBatch[]>()
      for (const batch of pending) {
        const leader = metadata.topics.get(batch.topic)!.partitions[batch.partition]!.leader
        const list = byLeader.get(leader)
        if (list === undefined) byLeader.set(leader, [batch])
        else list.push(batch)
      }
      let outstanding = byLeader.size
      let failure: Error | null = null
      for (const [leader, batches] of byLeader) {
        this.#request(metadata, leader, batches, (requestError) => {
          if (requestError) {
            failure ??= requestError
            if ((requestError as GenericError).findBy?.('hasStaleMetadata', true)) producer.clearMetadata()
          } else {
            for (const batch of batches) this.#acknowledged(pending, batch)
          }
          if (--outstanding === 0) done(failure)
        })
      }
    })
  }

  #acknowledged(pending: PartitionBatch[], batch: PartitionBatch): void {
    const key = `${batch.topic}\0${batch.partition}`
    this.#sequences.set(key, nextSequence(this.#sequences.get(key) ?? 0, batch.count))
    pending.splice(pending.indexOf(batch), 1)
  }

  /** One Produce request to one broker, in the highest version both sides speak. */
  #request(metadata: ClusterMetadata, leader: number, batches: readonly PartitionBatch[], done: (error: Error | null) => void): void {
    const producer = this.#producer
    const broker = metadata.brokers.get(leader)
    if (broker === undefined) {
      // No leader (-1, an election in progress) or one the metadata does not list: look again before the retry.
      producer.clearMetadata()
      return done(
        new Error(`Kafka metadata names broker ${leader} as the leader of ${batches.map((b) => `${b.topic}/${b.partition}`).join(', ')} but not its address`),
      )
    }
    producer[kGetApi]('Produce', (apiError, api) => {
      if (apiError || api === undefined) return done(apiError ?? new Error('no Produce API'))
      const parse = PARSERS[api.version]
      if (parse === undefined) return done(new Error(`Kafka Produce v${api.version} is not supported by the writer`))
      producer[kGetConnection](broker, (connectionError, connection?: Connection) => {
        if (connectionError || connection === undefined) return done(connectionError ?? new Error('no Kafka connection'))
        const flexible = api.version >= FIRST_FLEXIBLE_VERSION
        const payload = () => produceRequest(batches, producer[kOptions].timeout ?? 30_000, flexible)
        connection.send<ReturnType<typeof produceV11.parseResponse>>(PRODUCE, api.version, payload, parse, flexible, flexible, (error) => done(error))
      })
    })
  }

  /** Memory for one batch from the arena; a larger arena when it is full (batches already cut keep the old one alive). */
  readonly #allocate = (bytes: number): Uint8Array => {
    if (bytes > MAX_ARENA_BATCH_BYTES) return new Uint8Array(bytes)
    if (this.#arenaUsed + bytes > this.#arena.length) {
      this.#arena = new Uint8Array(Math.max(this.#arena.length * 2, bytes))
      this.#arenaUsed = 0
    }
    const slice = this.#arena.subarray(this.#arenaUsed, this.#arenaUsed + bytes)
    this.#arenaUsed += bytes
    return slice
  }

  /** The key's UTF-8 bytes in the scratch buffer (valid until the next call). */
  #keyBytes(key: string): Uint8Array {
    const length = utf8Length(key)
    if (length > this.#keyScratch.length) this.#keyScratch = new Uint8Array(length * 2)
    const scratch = this.#keyScratch
    if (length === key.length) {
      for (let i = 0; i < length; i++) scratch[i] = key.charCodeAt(i)
    } else {
      utf8.encodeInto(key, scratch)
    }
    return scratch.subarray(0, length)
  }
}

/** Produce request body: transactional_id (null), acks, timeout, then per topic and partition the record batch. */
function produceRequest(batches: readonly PartitionBatch[], timeoutMs: number, flexible: boolean): Writer {
  const topics = new Map<string, PartitionBatch[]>()
  for (const batch of batches) {
    const list = topics.get(batch.topic)
    if (list === undefined) topics.set(batch.topic, [batch])
    else list.push(batch)
  }
  const writer = Writer.create().appendString(null, flexible).appendInt16(ACKS_ALL).appendInt32(timeoutMs)
  arrayLength(writer, topics.size, flexible)
  for (const [topic, partitions] of topics) {
    writer.appendString(topic, flexible)
    arrayLength(writer, partitions.length, flexible)
    for (const batch of partitions) {
      writer.appendInt32(batch.partition)
      if (flexible) writer.appendUnsignedVarInt(batch.bytes.length + 1)
      else writer.appendInt32(batch.bytes.length)
      writer.append(bufferView(batch.bytes))
      if (flexible) writer.appendTaggedFields()
    }
    if (flexible) writer.appendTaggedFields()
  }
  if (flexible) writer.appendTaggedFields()
  return writer
}

/** An array's length: compact (length + 1, unsigned varint) in flexible versions, else INT32. */
function arrayLength(writer: Writer, length: number, flexible: boolean): void {
  if (flexible) writer.appendUnsignedVarInt(length + 1)
  else writer.appendInt32(length)
}
