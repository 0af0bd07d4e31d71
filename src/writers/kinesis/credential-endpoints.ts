/**
 * @module AWS credentials from HTTP endpoints: the ECS/EKS container credentials endpoint and the
 * EC2 instance metadata service (IMDSv2: a session token by PUT, then the role's credentials by GET).
 * Errors name the endpoint and the HTTP status, never a response body (it may hold a secret).
 */
import type { AwsCredentials } from './credentials.ts'

/** What the endpoint lookups read; injectable for tests. */
export interface EndpointSources {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly readTextFile: (path: string) => Promise<string>
  readonly fetch: typeof fetch
}

/** ECS task role endpoint for AWS_CONTAINER_CREDENTIALS_RELATIVE_URI. */
const ECS_ENDPOINT = 'http://169.254.170.2'
const IMDS_ENDPOINT = 'http://169.254.169.254'
/** Plain-HTTP hosts a full container URI may name: ECS, EKS Pod Identity, and loopback. */
const CONTAINER_HTTP_HOSTS = new Set(['169.254.170.2', '169.254.170.23', '[fd00:ec2::23]', 'localhost', '[::1]'])
const CONTAINER_TIMEOUT_MS = 5_000
/** Short: off EC2 nothing answers, and this is the last place the chain looks. */
const IMDS_TIMEOUT_MS = 1_000
const IMDS_TOKEN_TTL_SECONDS = 21_600

/** True when the environment points at a container credentials endpoint. */
export function hasContainerEndpoint(env: EndpointSources['env']): boolean {
  return Boolean(env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI?.trim() || env.AWS_CONTAINER_CREDENTIALS_FULL_URI?.trim())
}

/**
 * Credentials from the container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI,
 * with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or AWS_CONTAINER_AUTHORIZATION_TOKEN).
 * @throws Error when the URI is not allowed, the endpoint fails, or the answer lacks credentials.
 */
export async function containerCredentials(sources: EndpointSources): Promise<AwsCredentials> {
  const env = sources.env
  const relative = env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI?.trim()
  const url = new URL(relative ? ECS_ENDPOINT + relative : (env.AWS_CONTAINER_CREDENTIALS_FULL_URI ?? '').trim())
  const shown = `${url.origin}${url.pathname}`
  if (!relative && url.protocol === 'http:' && !CONTAINER_HTTP_HOSTS.has(url.hostname) && !url.hostname.startsWith('127.')) {
    throw new Error(`AWS_CONTAINER_CREDENTIALS_FULL_URI ${shown}: plain HTTP is allowed only to the ECS/EKS endpoints or loopback; use https`)
  }
  const headers: Record<string, string> = {}
  const token = await authorizationToken(sources)
  if (token !== undefined) headers.Authorization = token
  const response = await request(sources, url, { headers }, CONTAINER_TIMEOUT_MS, `container credentials endpoint ${shown}`)
  return parseCredentials(await response.text(), `container credentials endpoint ${shown}`)
}

/**
 * Credentials of the EC2 instance's role (IMDSv2); undefined when instance metadata is disabled
 * (AWS_EC2_METADATA_DISABLED=true) or does not answer (not on EC2).
 * AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the endpoint.
 * @throws Error when the service answers but gives no usable credentials.
 */
export async function instanceCredentials(sources: EndpointSources): Promise<AwsCredentials | undefined> {
  const env = sources.env
  if (env.AWS_EC2_METADATA_DISABLED?.trim().toLowerCase() === 'true') return undefined
  const base = (env.AWS_EC2_METADATA_SERVICE_ENDPOINT?.trim() || IMDS_ENDPOINT).replace(/\/+$/, '')
  let token: string
  try {
    const response = await request(
      sources,
      new URL(`${base}/latest/api/token`),
      {
        method: 'PUT',
        headers: { 'X-aws-ec2-metadata-token-ttl-seconds': String(IMDS_TOKEN_TTL_SECONDS) },
      },
      IMDS_TIMEOUT_MS,
      `instance metadata service ${base}`,
    )
    token = await response.text()
  } catch (error) {
    if ((error as { unreachable?: boolean }).unreachable) return undefined
    throw error
  }
  const headers = { 'X-aws-ec2-metadata-token': token }
  const rolesUrl = `${base}/latest/meta-data/iam/security-credentials/`
  const roles = await request(sources, new URL(rolesUrl), { headers }, IMDS_TIMEOUT_MS, `instance metadata service ${base}`)
  const role = (await roles.text()).split('\n')[0]?.trim()
  if (!role) throw new Error(`instance metadata service ${base}: the instance has no IAM role attached`)
  const answer = await request(sources, new URL(rolesUrl + encodeURIComponent(role)), { headers }, IMDS_TIMEOUT_MS, `instance metadata service ${base}`)
  return parseCredentials(await answer.text(), `instance metadata service ${base} (role "${role}")`)
}

async function authorizationToken(sources: EndpointSources): Promise<string | undefined> {
  const file = sources.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE?.trim()
  if (file) {
    try {
      return (await sources.readTextFile(file)).trim()
    } catch (error) {
      throw new Error(`cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ${file}: ${(error as { code?: string }).code ?? (error as Error).name}`)
    }
  }
  return sources.env.AWS_CONTAINER_AUTHORIZATION_TOKEN?.trim() || undefined
}

/** A GET/PUT with a timeout; non-2xx and network failures become errors naming `what`. */
async function request(sources: EndpointSources, url: URL, init: RequestInit, timeoutMs: number, what: string): Promise<Response> {
  let response: Response
  try {
    response = await sources.fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'connection failed'
    throw Object.assign(new Error(`${what}: ${reason}`), { unreachable: true })
  }
  if (!response.ok) {
    await response.body?.cancel()
    throw new Error(`${what} answered HTTP ${response.status}`)
  }
  return response
}

function parseCredentials(text: string, what: string): AwsCredentials {
  let body: Record<string, unknown>
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new Error(`${what}: the answer is not JSON`)
  }
  if (body.Code !== undefined && body.Code !== 'Success') throw new Error(`${what}: the answer's Code is ${JSON.stringify(String(body.Code))}`)
  const { AccessKeyId, SecretAccessKey, Token, Expiration } = body
  if (typeof AccessKeyId !== 'string' || typeof SecretAccessKey !== 'string' || !AccessKeyId || !SecretAccessKey) {
    throw new Error(`${what}: the answer has no AccessKeyId and SecretAccessKey`)
  }
  const expiration = typeof Expiration === 'string' ? new Date(Expiration) : undefined
  if (expiration !== undefined && Number.isNaN(expiration.getTime())) throw new Error(`${what}: the answer's Expiration is not a date`)
  return {
    accessKeyId: AccessKeyId,
    secretAccessKey: SecretAccessKey,
    ...(typeof Token === 'string' && Token ? { sessionToken: Token } : {}),
    ...(expiration ? { expiration } : {}),
  }
}
