/**
 * @module Where the Kinesis writer's AWS credentials come from, in the AWS SDKs' order: given in
 * the options; environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN);
 * the shared credentials/config files (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE);
 * the ECS/EKS container endpoint; EC2 instance metadata (IMDSv2). Temporary credentials are
 * fetched again before they expire. Secrets never appear in messages: `redact` removes them.
 */
import { environment, homeDirectory, readTextFile } from '../../runtime/io.ts'
import { PgToBrokersError } from '../../errors.ts'
import { containerCredentials, hasContainerEndpoint, instanceCredentials } from './credential-endpoints.ts'
import { credentialsFromSharedFiles } from './credential-files.ts'

/** A set of AWS credentials; `expiration` is set for temporary ones. */
export interface AwsCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
  readonly expiration?: Date
}

/** What the chain reads; every part defaults to the real environment. Tests inject their own. */
export interface CredentialSources {
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly readTextFile?: (path: string) => Promise<string>
  readonly homeDirectory?: string
  readonly fetch?: typeof fetch
  readonly now?: () => number
}

/** Refresh temporary credentials this long before they expire (or at half their lifetime, if shorter). */
const REFRESH_MARGIN_MS = 5 * 60_000

/**
 * Resolves credentials once and caches them; temporary credentials are resolved again when close to
 * expiry (if that fails while the old ones are still valid, the old ones are used).
 */
export class CredentialProvider {
  readonly #resolve: () => Promise<{ credentials: AwsCredentials; source: string }>
  readonly #now: () => number
  #cached: { credentials: AwsCredentials; source: string; refreshAt: number } | undefined
  #pending: Promise<AwsCredentials> | undefined
  readonly #secrets = new Set<string>()

  private constructor(resolve: () => Promise<{ credentials: AwsCredentials; source: string }>, now: () => number) {
    this.#resolve = resolve
    this.#now = now
  }

  /** Fixed credentials (from options). */
  static fromStatic(credentials: AwsCredentials): CredentialProvider {
    return new CredentialProvider(async () => ({ credentials, source: 'the writer options' }), Date.now)
  }

  /** The default chain (see the module comment). */
  static fromChain(sources: CredentialSources = {}): CredentialProvider {
    const full = {
      env: sources.env ?? environment(),
      readTextFile: sources.readTextFile ?? readTextFile,
      homeDirectory: sources.homeDirectory ?? homeDirectory(),
      fetch: sources.fetch ?? ((input, init) => fetch(input, init)),
    }
    return new CredentialProvider(() => resolveChain(full), sources.now ?? Date.now)
  }

  /** Where the current credentials came from (no secret), or "" before the first resolution. */
  get source(): string {
    return this.#cached?.source ?? ''
  }

  /**
   * Current credentials. @throws PgToBrokersError (code kinesis_no_credentials) when none can be
   * found and no valid ones are cached.
   */
  get(): Promise<AwsCredentials> {
    const cached = this.#cached
    if (cached && this.#now() < cached.refreshAt) return Promise.resolve(cached.credentials)
    this.#pending ??= this.#refresh().finally(() => (this.#pending = undefined))
    return this.#pending
  }

  /** True when the current credentials are temporary (they expire), so asking again may give new ones. */
  get temporary(): boolean {
    return this.#cached?.credentials.expiration !== undefined
  }

  /** Forgets the cached credentials (after the service called them expired). */
  invalidate(): void {
    this.#cached = undefined
  }

  /** Replaces every secret this provider has handed out (secret keys, session tokens) with "***". */
  redact(text: string): string {
    let clean = text
    for (const secret of this.#secrets) if (secret.length >= 4) clean = clean.split(secret).join('***')
    return clean
  }

  async #refresh(): Promise<AwsCredentials> {
    const previous = this.#cached
    let resolved: { credentials: AwsCredentials; source: string }
    try {
      resolved = await this.#resolve()
    } catch (error) {
      if (previous?.credentials.expiration && previous.credentials.expiration.getTime() > this.#now()) return previous.credentials
      const message = this.redact(error instanceof Error ? error.message : String(error))
      throw new PgToBrokersError('kinesis_no_credentials', `cannot get AWS credentials for Kinesis: ${message}`)
    }
    const { credentials } = resolved
    this.#secrets.add(credentials.secretAccessKey)
    if (credentials.sessionToken) this.#secrets.add(credentials.sessionToken)
    this.#cached = { ...resolved, refreshAt: this.#refreshTime(credentials) }
    return credentials
  }

  #refreshTime(credentials: AwsCredentials): number {
    if (!credentials.expiration) return Number.POSITIVE_INFINITY
    const now = this.#now()
    const lifetime = credentials.expiration.getTime() - now
    return now + Math.max(0, lifetime - Math.min(REFRESH_MARGIN_MS, lifetime / 2))
  }
}

type FullSources = Required<Omit<CredentialSources, 'now'>>

/** The chain itself: the first source that is configured wins; a configured source that fails is an error. */
async function resolveChain(sources: FullSources): Promise<{ credentials: AwsCredentials; source: string }> {
  const env = sources.env
  const accessKeyId = env.AWS_ACCESS_KEY_ID?.trim()
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY?.trim()
  if (accessKeyId && secretAccessKey) {
    const sessionToken = env.AWS_SESSION_TOKEN?.trim()
    return { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }, source: 'environment variables' }
  }
  if (accessKeyId || secretAccessKey) {
    throw new Error(
      `${accessKeyId ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY'} is set but ${accessKeyId ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID'} is not`,
    )
  }
  const fromFiles = await credentialsFromSharedFiles(sources)
  if (fromFiles) return fromFiles
  if (hasContainerEndpoint(env)) return { credentials: await containerCredentials(sources), source: 'the container credentials endpoint' }
  const fromInstance = await instanceCredentials(sources)
  if (fromInstance) return { credentials: fromInstance, source: 'EC2 instance metadata' }
  throw new Error(
    'none found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a profile in ~/.aws/credentials, ' +
      'or run where container or EC2 instance credentials are available',
  )
}
