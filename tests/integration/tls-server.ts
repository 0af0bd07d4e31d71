/**
 * @module A throwaway cluster with ssl=on and a self-made CA (openssl, under .cache), and a second,
 * unrelated CA for the wrong-CA case. Started and stopped (by PID) by the TLS test only.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import process from 'node:process'
import { REPO_ROOT } from './process.ts'
import { startFaultCluster, type FaultCluster } from './faults/cluster.ts'

export interface TlsCluster extends FaultCluster {
  /** The CA that signed the server certificate (PEM file). */
  readonly caFile: string
  /** A CA that signed nothing the server has. */
  readonly otherCaFile: string
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' })
}

function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`], dir)
}

/**
 * A CA, a server certificate for 127.0.0.1 and localhost signed by it, another CA, then the cluster;
 * `extraOptions` are more `-c name=value` settings (later ones win, e.g. fsync=on for the benchmark).
 */
export async function startTlsCluster(name = 'pg-tls', extraOptions: readonly string[] = []): Promise<TlsCluster> {
  mkdirSync(`${REPO_ROOT}.cache`, { recursive: true })
  const dir = mkdtempSync(`${REPO_ROOT}.cache/pg-tls-certs-`)
  makeCa(dir, 'test-ca')
  makeCa(dir, 'other-ca')
  writeFileSync(`${dir}/san.ext`, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr'], dir)
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'test-ca.crt',
      '-CAkey',
      'test-ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'san.ext',
      '-out',
      'server.crt',
    ],
    dir,
  )
  chmodSync(`${dir}/server.key`, 0o600)
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', `${dir}/server.key`, `${dir}/server.crt`])
  chmodSync(dir, 0o755)
  const cluster = await startFaultCluster(name, ['ssl=on', `ssl_cert_file=${dir}/server.crt`, `ssl_key_file=${dir}/server.key`, ...extraOptions])
  return {
    ...cluster,
    caFile: `${dir}/test-ca.crt`,
    otherCaFile: `${dir}/other-ca.crt`,
    stop() {
      cluster.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
