/** @module The cross-field check of writer type "module": a remote module runs only with explicit consent. */
import { isRemoteModule, REMOTE_MODULE_CONSENT } from '../writers/remote-module.ts'
import { showValue } from './schema.ts'

/** Problems of a validated module writer section, as `path: problem` lines. */
export function moduleConfigProblems(writer: Readonly<Record<string, unknown>> & { readonly type: string }): string[] {
  if (writer.type !== 'module' || typeof writer.path !== 'string' || writer.allowRemote === true) return []
  if (!isRemoteModule(writer.path)) return []
  return [`writer.path: ${showValue(writer.path)} is a remote module: ${REMOTE_MODULE_CONSENT}`]
}
