/**
 * @module AWS credentials from the shared files (~/.aws/credentials and ~/.aws/config), for the
 * profile AWS_PROFILE names (else "default"). Only static keys are supported; a profile that
 * assumes a role, uses SSO or runs a credential_process is reported, not silently skipped.
 */
import type { AwsCredentials } from './credentials.ts'

/** What the shared-file lookup reads; injectable for tests. */
export interface SharedFileSources {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly readTextFile: (path: string) => Promise<string>
  readonly homeDirectory: string
}

/** Profile settings this writer cannot use, and what they mean, for the error message. */
const UNSUPPORTED_SETTINGS: readonly [string, string][] = [
  ['role_arn', 'assumes a role (role_arn)'],
  ['credential_process', 'runs a credential_process'],
  ['sso_session', 'uses IAM Identity Center (sso_session)'],
  ['sso_start_url', 'uses IAM Identity Center (sso_start_url)'],
  ['web_identity_token_file', 'uses a web identity token file'],
]

/**
 * The profile's static credentials; undefined when the default profile is not configured.
 * @throws Error when AWS_PROFILE names a profile no file has, when a file exists but cannot be
 * read, or when the profile has no usable static keys. Messages name files, profiles and
 * settings, never their values.
 */
export async function credentialsFromSharedFiles(sources: SharedFileSources): Promise<{ credentials: AwsCredentials; source: string } | undefined> {
  const env = sources.env
  const chosen = nonEmpty(env.AWS_PROFILE)
  const profile = chosen ?? 'default'
  const credentialsPath = expandHome(nonEmpty(env.AWS_SHARED_CREDENTIALS_FILE) ?? '~/.aws/credentials', sources.homeDirectory)
  const configPath = expandHome(nonEmpty(env.AWS_CONFIG_FILE) ?? '~/.aws/config', sources.homeDirectory)
  const fromCredentials = parseIni(await readIfExists(credentialsPath, sources)).get(profile)
  const config = parseIni(await readIfExists(configPath, sources))
  const fromConfig = config.get(profile === 'default' ? 'default' : `profile ${profile}`) ?? (profile === 'default' ? config.get('profile default') : undefined)
  if (fromCredentials === undefined && fromConfig === undefined) {
    if (chosen === undefined) return undefined
    throw new Error(`AWS profile "${profile}" (AWS_PROFILE) is not in ${credentialsPath} or ${configPath}`)
  }
  // The credentials file wins over the config file, setting by setting.
  const settings = new Map([...(fromConfig ?? []), ...(fromCredentials ?? [])])
  return { credentials: staticKeys(settings, profile), source: `profile "${profile}" (${fromCredentials ? credentialsPath : configPath})` }
}

/**
 * Sections of an INI file as name → settings. Comments start with # or ;. Indented lines belong to
 * a nested block (e.g. `s3 =` settings) and are skipped.
 */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>()
  let current: Map<string, string> | undefined
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';') || /^\s/.test(raw)) continue
    const section = /^\[\s*([^\]]+?)\s*\]$/.exec(line)
    if (section) {
      const name = section[1]!.replace(/\s+/g, ' ')
      current = sections.get(name) ?? new Map<string, string>()
      sections.set(name, current)
      continue
    }
    const eq = line.indexOf('=')
    if (eq > 0 && current) current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim())
  }
  return sections
}

function staticKeys(settings: ReadonlyMap<string, string>, profile: string): AwsCredentials {
  const accessKeyId = nonEmpty(settings.get('aws_access_key_id'))
  const secretAccessKey = nonEmpty(settings.get('aws_secret_access_key'))
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    const sessionToken = nonEmpty(settings.get('aws_session_token'))
    return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken }
  }
  if (accessKeyId !== undefined || secretAccessKey !== undefined) {
    const [has, lacks] = accessKeyId !== undefined ? ['aws_access_key_id', 'aws_secret_access_key'] : ['aws_secret_access_key', 'aws_access_key_id']
    throw new Error(`AWS profile "${profile}" has ${has} but no ${lacks}`)
  }
  const unsupported = UNSUPPORTED_SETTINGS.find(([key]) => settings.has(key))
  const what = unsupported ? unsupported[1] : 'has no aws_access_key_id and aws_secret_access_key'
  throw new Error(
    `AWS profile "${profile}" ${what}, which the Kinesis writer does not support: give the profile ` +
      'aws_access_key_id and aws_secret_access_key, or use environment variables, container or instance credentials',
  )
}

async function readIfExists(path: string, sources: SharedFileSources): Promise<string> {
  try {
    return await sources.readTextFile(path)
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'ENOENT' || code === 'ENOTDIR' || (error as Error).name === 'NotFound') return ''
    throw new Error(`cannot read the AWS shared file ${path}: ${code ?? (error as Error).message}`)
  }
}

function expandHome(path: string, home: string): string {
  return path === '~' || path.startsWith('~/') ? home + path.slice(1) : path
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}
