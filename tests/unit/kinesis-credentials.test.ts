/**
 * The Kinesis writer's credential chain. Shared files are temporary files; the ECS/EKS container
 * endpoint and the EC2 instance metadata service (IMDSv2) are played by a local node:http server
 * on 127.0.0.1 standing in for them (the real ones live at link-local addresses only on AWS).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '../harness.ts'
import { assert, assertEquals, assertRejects } from '../assert.ts'
import { CredentialProvider } from '../../src/writers/kinesis/credentials.ts'
import { parseIni } from '../../src/writers/kinesis/credential-files.ts'

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLETOKEN'

/** A chain that sees only `env` (IMDS off unless the env turns it on) and the files in `home`. */
function chain(env: Record<string, string>, home = '/nonexistent', now?: () => number): CredentialProvider {
  return CredentialProvider.fromChain({ env: { AWS_EC2_METADATA_DISABLED: 'true', ...env }, homeDirectory: home, ...(now ? { now } : {}) })
}

async function withFiles(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pgtb-aws-'))
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
    await body(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A local HTTP server standing in for an AWS credentials endpoint; `handler` answers each request. */
async function standIn(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  body: (url: string, requests: IncomingMessage[]) => Promise<void>,
): Promise<void> {
  const requests: IncomingMessage[] = []
  const server = createServer((req, res) => (requests.push(req), handler(req, res)))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    await body(`http://127.0.0.1:${(server.address() as { port: number }).port}`, requests)
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

const temporary = (n: number, ttlMs = 3_600_000) =>
  JSON.stringify({
    Code: 'Success',
    AccessKeyId: `ASIATEMP${n}`,
    SecretAccessKey: `${SECRET}${n}`,
    Token: `${TOKEN}${n}`,
    Expiration: new Date(Date.now() + ttlMs).toISOString(),
  })

test('kinesis credentials: environment variables come first', async () => {
  const provider = chain({ AWS_ACCESS_KEY_ID: 'AKIDENV', AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN, AWS_PROFILE: 'ignored' })
  assertEquals(await provider.get(), { accessKeyId: 'AKIDENV', secretAccessKey: SECRET, sessionToken: TOKEN })
  assertEquals(provider.source, 'environment variables')
  await assertRejects(() => chain({ AWS_ACCESS_KEY_ID: 'AKIDENV' }).get(), 'AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not')
})

test('kinesis credentials: shared files — default and named profiles, credentials file over config file', async () => {
  const credentials =
    `# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = ${SECRET}\n\n[work]\n` +
    `aws_access_key_id=AKIDWORK\naws_secret_access_key=${SECRET}\naws_session_token=${TOKEN}\n`
  const config =
    `[default]\nregion = eu-west-1\n[profile cfg]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = ${SECRET}\ns3 =\n  ` +
    `max_concurrent_requests = 20\n[profile work]\naws_access_key_id = AKIDSHADOWED\n`
  await withFiles({ credentials, config }, async (dir) => {
    const files = { AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'), AWS_CONFIG_FILE: join(dir, 'config') }
    assertEquals((await chain(files).get()).accessKeyId, 'AKIDDEFAULT')
    const work = chain({ ...files, AWS_PROFILE: 'work' })
    assertEquals(await work.get(), { accessKeyId: 'AKIDWORK', secretAccessKey: SECRET, sessionToken: TOKEN })
    assertEquals(work.source, `profile "work" (${join(dir, 'credentials')})`)
    assertEquals((await chain({ ...files, AWS_PROFILE: 'cfg' }).get()).accessKeyId, 'AKIDCONFIG', '[profile cfg] in the config file')
    await assertRejects(
      () => chain({ ...files, AWS_PROFILE: 'nope' }).get(),
      `AWS profile "nope" (AWS_PROFILE) is not in ${join(dir, 'credentials')} or ${join(dir, 'config')}`,
    )
  })
})

test('kinesis credentials: the files are found under ~/.aws by default', async () => {
  await withFiles({}, async (home) => {
    const { mkdirSync } = await import('node:fs')
    mkdirSync(join(home, '.aws'))
    writeFileSync(join(home, '.aws/credentials'), `[default]\naws_access_key_id = AKIDHOME\naws_secret_access_key = ${SECRET}\n`)
    assertEquals((await chain({}, home).get()).accessKeyId, 'AKIDHOME')
  })
})

test('kinesis credentials: profiles this writer cannot use are reported, not skipped', async () => {
  const config =
    '[profile role]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = default\n[profile sso]\nsso_session = corp\n[profile half]\n' +
    'aws_access_key_id = AKIDHALF\n'
  await withFiles({ config }, async (dir) => {
    const env = { AWS_CONFIG_FILE: join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') }
    await assertRejects(
      () => chain({ ...env, AWS_PROFILE: 'role' }).get(),
      'AWS profile "role" assumes a role (role_arn), which the Kinesis writer does not support',
    )
    await assertRejects(() => chain({ ...env, AWS_PROFILE: 'sso' }).get(), 'uses IAM Identity Center (sso_session)')
    await assertRejects(() => chain({ ...env, AWS_PROFILE: 'half' }).get(), 'AWS profile "half" has aws_access_key_id but no aws_secret_access_key')
  })
  assertEquals(parseIni('[ profile  a ]\nk = v = w\n')?.get('profile a')?.get('k'), 'v = w')
})

test('kinesis credentials: the container endpoint (a local stand-in) with an authorization token file', async () => {
  await withFiles({ token: 'Bearer-token-from-file\n' }, async (dir) => {
    await standIn(
      (_req, res) => res.end(temporary(1)),
      async (url, requests) => {
        const provider = chain({
          AWS_CONTAINER_CREDENTIALS_FULL_URI: `${url}/v2/credentials?x=1`,
          AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: join(dir, 'token'),
          AWS_CONTAINER_AUTHORIZATION_TOKEN: 'ignored',
        })
        const credentials = await provider.get()
        assertEquals(credentials.accessKeyId, 'ASIATEMP1')
        assertEquals(credentials.sessionToken, `${TOKEN}1`)
        assert(credentials.expiration instanceof Date, 'temporary credentials carry their expiration')
        assertEquals(requests[0]!.headers.authorization, 'Bearer-token-from-file')
        assertEquals(requests[0]!.url, '/v2/credentials?x=1')
        assertEquals(provider.source, 'the container credentials endpoint')
      },
    )
  })
  await assertRejects(
    () => chain({ AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://10.0.0.5/creds' }).get(),
    'plain HTTP is allowed only to the ECS/EKS endpoints or loopback',
  )
})

test('kinesis credentials: EC2 instance metadata, IMDSv2 (a local stand-in): token by PUT, then the role, then its credentials', async () => {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token')
      return res.end(req.headers['x-aws-ec2-metadata-token-ttl-seconds'] === '21600' ? 'imds-token' : 'bad')
    if (req.headers['x-aws-ec2-metadata-token'] !== 'imds-token') return res.writeHead(401).end()
    if (req.url === '/latest/meta-data/iam/security-credentials/') return res.end('app-role\n')
    if (req.url === '/latest/meta-data/iam/security-credentials/app-role') return res.end(temporary(7))
    res.writeHead(404).end()
  }
  await standIn(handler, async (url, requests) => {
    const provider = CredentialProvider.fromChain({ env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: url }, homeDirectory: '/nonexistent' })
    assertEquals((await provider.get()).accessKeyId, 'ASIATEMP7')
    assertEquals(
      requests.map((r) => `${r.method} ${r.url}`),
      ['PUT /latest/api/token', 'GET /latest/meta-data/iam/security-credentials/', 'GET /latest/meta-data/iam/security-credentials/app-role'],
    )
    assertEquals(provider.source, 'EC2 instance metadata')
  })
  await assertRejects(() => chain({}).get(), /^cannot get AWS credentials for Kinesis: none found: set AWS_ACCESS_KEY_ID/)
})

test('kinesis credentials: temporary credentials are fetched again before they expire', async () => {
  let served = 0
  let clock = Date.now()
  await standIn(
    (_req, res) => res.end(temporary(++served, 60_000)),
    async (url) => {
      const provider = chain({ AWS_CONTAINER_CREDENTIALS_FULL_URI: url }, '/nonexistent', () => clock)
      assertEquals((await provider.get()).accessKeyId, 'ASIATEMP1')
      clock += 20_000
      assertEquals((await provider.get()).accessKeyId, 'ASIATEMP1', 'still fresh')
      clock += 15_000 // 35 s of a 60 s lifetime: past the refresh point (half the lifetime, here)
      assertEquals((await provider.get()).accessKeyId, 'ASIATEMP2', 'refreshed before expiry')
      assertEquals(served, 2)
    },
  )
})

test('kinesis credentials: failures never show a secret, even when the endpoint answers with one', async () => {
  await standIn(
    (_req, res) => res.writeHead(500).end(`internal error for ${SECRET} ${TOKEN}`),
    async (url) => {
      const error = await assertRejects(
        () => chain({ AWS_CONTAINER_CREDENTIALS_FULL_URI: url, AWS_CONTAINER_AUTHORIZATION_TOKEN: TOKEN }).get(),
        `container credentials endpoint ${url}/ answered HTTP 500`,
      )
      assert(!error.message.includes(SECRET) && !error.message.includes(TOKEN), error.message)
    },
  )
  await standIn(
    (_req, res) => res.end(`{"AccessKeyId": "x", "SecretAccessKey": "${SECRET}"`),
    async (url) => {
      const error = await assertRejects(() => chain({ AWS_CONTAINER_CREDENTIALS_FULL_URI: url }).get(), 'the answer is not JSON')
      assert(!error.message.includes(SECRET), error.message)
    },
  )
  const provider = chain({ AWS_ACCESS_KEY_ID: 'AKIDENV', AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN })
  await provider.get()
  assertEquals(provider.redact(`bad ${SECRET} and ${TOKEN}`), 'bad *** and ***')
})
