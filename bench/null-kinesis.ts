/**
 * @module A stand-in Kinesis endpoint for the benchmark, on 127.0.0.1: it answers at once and stores
 * nothing, so the writer's own cost (planning, aggregation, base64, JSON, SigV4 signing, HTTP) is
 * measured without a server's. It checks each request as Kinesis would — the SigV4 signature,
 * recomputed here from the known credentials, and the shape and limits of the body — answers a bad
 * one as Kinesis does (HTTP 400 with `__type`) and counts it: a row must not be faster for sending
 * requests the service would refuse. Answers DescribeStreamSummary, ListShards and PutRecords.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'

/** Stand-in keys of the bench (bench/runners/broker.ts, bench/consumers.ts) and of tests/integration/kinesis-support.ts. */
export const STUB_CREDENTIALS: readonly StubCredentials[] = [
  { accessKeyId: 'AKIDBENCHLOCAL', secretAccessKey: 'local-secret-not-real' },
  { accessKeyId: 'AKIDTESTLOCAL', secretAccessKey: 'local-secret-not-real' },
]

export interface StubCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
}

export interface StubOptions {
  /** Keys whose signatures are accepted (default STUB_CREDENTIALS); any other key id is unrecognised. */
  readonly credentials?: readonly StubCredentials[]
  readonly region?: string
  /** The one stream that exists; without it any valid stream name is accepted. */
  readonly streamName?: string
  readonly shards?: number
}

/** What the stub saw; `reasons` holds the first rejections' messages. */
export interface StubStats {
  requests: number
  records: number
  rejected: number
  readonly reasons: string[]
}

export interface NullKinesis {
  readonly endpoint: string
  readonly stats: StubStats
  readonly close: () => Promise<void>
}

/** PutRecords limits (API reference): records per request, bytes per request and per record (data plus PartitionKey). */
const MAX_RECORDS = 500
const MAX_REQUEST_BYTES = 10 * 1024 * 1024
const MAX_RECORD_BYTES = 1024 * 1024
const MAX_PARTITION_KEY = 256
const MAX_HASH_KEY = (1n << 128n) - 1n
/** SigV4: a request dated further than this from the server's clock is refused ("Signature expired"). */
const MAX_SKEW_MS = 5 * 60_000
const ACCOUNT = '000000000000'
const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,128}$/
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/

/** A refusal as Kinesis words it: HTTP status, `__type` and message. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message)
  }
}

export async function startNullKinesis(options: StubOptions = {}): Promise<NullKinesis> {
  const stub = new Stub(options)
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => stub.handle(req, Buffer.concat(chunks), res))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats: stub.stats,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  }
}

class Stub {
  readonly stats: StubStats = { requests: 0, records: 0, rejected: 0, reasons: [] }
  readonly #secrets: ReadonlyMap<string, string>
  readonly #region: string
  readonly #stream: string | undefined
  readonly #shards: number
  readonly #width: bigint
  #sequence = 49_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n

  constructor(options: StubOptions) {
    this.#secrets = new Map((options.credentials ?? STUB_CREDENTIALS).map((c) => [c.accessKeyId, c.secretAccessKey]))
    this.#region = options.region ?? 'us-east-1'
    this.#stream = options.streamName
    this.#shards = options.shards ?? 4
    this.#width = (1n << 128n) / BigInt(this.#shards)
  }

  handle(req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    this.stats.requests++
    let answer: unknown
    try {
      answer = this.#answer(req, body)
    } catch (error) {
      const refusal = error instanceof Refusal ? error : new Refusal(500, 'InternalFailure', String(error))
      this.stats.rejected++
      if (this.stats.reasons.length < 10) this.stats.reasons.push(`${refusal.type}: ${refusal.message}`)
      res.writeHead(refusal.status, { 'Content-Type': 'application/x-amz-json-1.1', 'x-amzn-ErrorType': refusal.type })
      res.end(JSON.stringify({ __type: refusal.type, message: refusal.message }))
      return
    }
    res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' }).end(JSON.stringify(answer))
  }

  #answer(req: IncomingMessage, body: Buffer): unknown {
    if (req.method !== 'POST' || req.url !== '/') refuse(404, 'UnknownOperationException', `${req.method} ${req.url}: Kinesis takes POST /`)
    checkSignature(req, body, this.#secrets, this.#region, Date.now())
    if (req.headers['content-type'] !== 'application/x-amz-json-1.1')
      refuse(400, 'SerializationException', `Content-Type ${req.headers['content-type']} is not application/x-amz-json-1.1`)
    const target = String(req.headers['x-amz-target'] ?? '')
    let input: Record<string, unknown>
    try {
      input = JSON.parse(body.toString('utf8')) as Record<string, unknown>
    } catch {
      return refuse(400, 'SerializationException', 'the body is not JSON')
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) refuse(400, 'SerializationException', 'the body is not a JSON object')
    switch (target) {
      case 'Kinesis_20131202.PutRecords':
        return this.#putRecords(input)
      case 'Kinesis_20131202.DescribeStreamSummary':
        return { StreamDescriptionSummary: this.#summary(this.#streamOf(input)) }
      case 'Kinesis_20131202.ListShards':
        return this.#listShards(input)
      default:
        return refuse(400, 'UnknownOperationException', `X-Amz-Target ${JSON.stringify(target)} is not an operation this stub answers`)
    }
  }

  #putRecords(input: Record<string, unknown>): unknown {
    this.#streamOf(input)
    const records = input['Records']
    if (!Array.isArray(records) || records.length < 1 || records.length > MAX_RECORDS) {
      refuse(
        400,
        'ValidationException',
        `1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length between 1 and ${MAX_RECORDS} (got ` +
          `${Array.isArray(records) ? records.length : typeof records})`,
      )
    }
    let total = 0
    const results = (records as unknown[]).map((record, i) => {
      const { size, hashKey } = checkRecord(record, i)
      total += size
      return { SequenceNumber: String(this.#sequence++), ShardId: this.#shardId(hashKey) }
    })
    if (total > MAX_REQUEST_BYTES) refuse(400, 'InvalidArgumentException', `Records size exceeds ${MAX_REQUEST_BYTES} bytes (got ${total})`)
    this.stats.records += results.length
    return { FailedRecordCount: 0, Records: results, EncryptionType: 'NONE' }
  }

  #listShards(input: Record<string, unknown>): unknown {
    const max = input['MaxResults']
    if (max !== undefined && (!Number.isInteger(max) || (max as number) < 1 || (max as number) > 10_000))
      refuse(400, 'ValidationException', `MaxResults ${String(max)} is not 1-10000`)
    if (input['NextToken'] !== undefined) {
      // This stub never hands out a NextToken (every shard fits one page); naming the stream with it is an error.
      return refuse(400, 'InvalidArgumentException', 'NextToken was not issued by this stub')
    }
    this.#streamOf(input)
    const shards = Array.from({ length: this.#shards }, (_, i) => ({
      ShardId: shardIdOf(i),
      HashKeyRange: {
        StartingHashKey: (this.#width * BigInt(i)).toString(),
        EndingHashKey: (i === this.#shards - 1 ? MAX_HASH_KEY : this.#width * BigInt(i + 1) - 1n).toString(),
      },
      SequenceNumberRange: { StartingSequenceNumber: '49000000000000000000000000000000000000000000000000000000' },
    }))
    return { Shards: (max as number | undefined) === undefined ? shards : shards.slice(0, max as number) }
  }

  #summary(name: string): unknown {
    return {
      StreamName: name,
      StreamARN: `arn:aws:kinesis:${this.#region}:${ACCOUNT}:stream/${name}`,
      StreamStatus: 'ACTIVE',
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      RetentionPeriodHours: 24,
      StreamCreationTimestamp: 1_700_000_000,
      EnhancedMonitoring: [{ ShardLevelMetrics: [] }],
      EncryptionType: 'NONE',
      OpenShardCount: this.#shards,
      ConsumerCount: 0,
    }
  }

  /** The stream a request names (StreamName or StreamARN of this region); ResourceNotFoundException if it is not the stub's. */
  #streamOf(input: Record<string, unknown>): string {
    const name = input['StreamName']
    const arn = input['StreamARN']
    if (name === undefined && arn === undefined) refuse(400, 'ValidationException', 'give StreamName or StreamARN')
    if (name !== undefined && (typeof name !== 'string' || !STREAM_NAME.test(name)))
      refuse(400, 'ValidationException', `StreamName ${JSON.stringify(name)} does not match [a-zA-Z0-9_.-]{1,128}`)
    let stream = name as string | undefined
    if (arn !== undefined) {
      const prefix = `arn:aws:kinesis:${this.#region}:${ACCOUNT}:stream/`
      if (typeof arn !== 'string' || !arn.startsWith(prefix) || !STREAM_NAME.test(arn.slice(prefix.length)))
        refuse(400, 'ValidationException', `StreamARN ${JSON.stringify(arn)} is not a stream ARN of ${this.#region}`)
      if (stream !== undefined && stream !== (arn as string).slice(prefix.length))
        refuse(400, 'ValidationException', 'StreamName and StreamARN name different streams')
      stream = (arn as string).slice(prefix.length)
    }
    if (this.#stream !== undefined && stream !== this.#stream) refuse(400, 'ResourceNotFoundException', `Stream ${stream} under account ${ACCOUNT} not found.`)
    return stream!
  }

  #shardId(hashKey: bigint): string {
    return shardIdOf(Math.min(Number(hashKey / this.#width), this.#shards - 1))
  }
}

/** Checks one PutRecords entry; its size (data plus PartitionKey bytes) and the hash key that picks its shard. */
function checkRecord(record: unknown, i: number): { size: number; hashKey: bigint } {
  const at = `records.${i + 1}`
  if (typeof record !== 'object' || record === null) return refuse(400, 'SerializationException', `${at} is not an object`)
  const { Data: data, PartitionKey: key, ExplicitHashKey: explicit } = record as Record<string, unknown>
  if (typeof data !== 'string' || data.length % 4 !== 0 || !BASE64.test(data)) return refuse(400, 'SerializationException', `${at}.data is not base64`)
  if (typeof key !== 'string' || key.length < 1 || key.length > MAX_PARTITION_KEY) {
    return refuse(
      400,
      'ValidationException',
      `Value at '${at}.member.partitionKey' failed to satisfy constraint: Member must have length between 1 and ${MAX_PARTITION_KEY}`,
    )
  }
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0
  const size = (data.length / 4) * 3 - padding + Buffer.byteLength(key, 'utf8')
  if (size > MAX_RECORD_BYTES) refuse(400, 'ValidationException', `${at}: data and partition key are ${size} bytes, over ${MAX_RECORD_BYTES}`)
  if (explicit === undefined) return { size, hashKey: BigInt('0x' + createHash('md5').update(key, 'utf8').digest('hex')) }
  if (typeof explicit !== 'string' || !/^(0|[1-9]\d{0,38})$/.test(explicit) || BigInt(explicit) > MAX_HASH_KEY) {
    return refuse(
      400,
      'ValidationException',
      `Value at '${at}.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})`,
    )
  }
  return { size, hashKey: BigInt(explicit) }
}

/**
 * Recomputes the request's SigV4 signature (service "kinesis") from the secret of its access key id
 * and the headers it says it signed, over the body as received; refuses the request unless it matches.
 */
function checkSignature(req: IncomingMessage, body: Buffer, secrets: ReadonlyMap<string, string>, region: string, now: number): void {
  const match = AUTHORIZATION.exec(String(req.headers['authorization'] ?? ''))
  if (!match) return refuse(400, 'MissingAuthenticationTokenException', 'Missing Authentication Token')
  const [, keyId, date, scopeRegion, service, signedHeaders, signature] = match as unknown as string[]
  const secret = secrets.get(keyId!)
  if (secret === undefined) refuse(400, 'UnrecognizedClientException', 'The security token included in the request is invalid.')
  if (scopeRegion !== region || service !== 'kinesis')
    refuse(400, 'InvalidSignatureException', `Credential should be scoped to a valid region and service kinesis (got ${scopeRegion}/${service})`)
  const amzDate = String(req.headers['x-amz-date'] ?? '')
  const time = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)
  if (!time || !amzDate.startsWith(date!))
    return refuse(400, 'IncompleteSignature', `X-Amz-Date ${JSON.stringify(amzDate)} is missing or not of the credential's date ${date}`)
  const at = Date.UTC(+time[1]!, +time[2]! - 1, +time[3]!, +time[4]!, +time[5]!, +time[6]!)
  if (Math.abs(at - now) > MAX_SKEW_MS) refuse(400, 'InvalidSignatureException', `Signature expired: ${amzDate} is more than 5 minutes from the server's time`)
  const names = signedHeaders!.split(';')
  for (const required of ['host', 'x-amz-date'])
    if (!names.includes(required)) refuse(400, 'InvalidSignatureException', `SignedHeaders must include ${required}`)
  if (names.some((name, i) => req.headers[name] === undefined || (i > 0 && names[i - 1]! >= name)))
    refuse(400, 'InvalidSignatureException', `SignedHeaders ${signedHeaders} are not sorted, repeat a name, or name a header the request lacks`)
  const payloadHash = sha256Hex(body)
  const claimed = req.headers['x-amz-content-sha256']
  if (claimed !== undefined && claimed !== payloadHash) refuse(400, 'InvalidSignatureException', 'X-Amz-Content-Sha256 does not match the body')
  const canonicalHeaders = names.map((name) => `${name}:${String(req.headers[name]).trim().replace(/\s+/g, ' ')}\n`).join('')
  const canonicalRequest = [req.method, req.url, '', canonicalHeaders, signedHeaders, payloadHash].join('\n')
  const scope = `${date}/${region}/kinesis/aws4_request`
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n')
  let key: Buffer = hmac(`AWS4${secret}`, date!)
  for (const part of [region, 'kinesis', 'aws4_request']) key = hmac(key, part)
  const expected = hmac(key, stringToSign)
  if (!timingSafeEqual(expected, Buffer.from(signature!, 'hex'))) {
    refuse(
      400,
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    )
  }
}

function refuse(status: number, type: string, message: string): never {
  throw new Refusal(status, type, message)
}

function shardIdOf(index: number): string {
  return `shardId-${String(index).padStart(12, '0')}`
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest()
}
