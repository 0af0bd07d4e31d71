/** @module The writer types built in besides the brokers: stdout, file and module, as the config and the CLI see them. */
import * as v from 'valibot'
import { PgToBrokersError } from '../errors.ts'
import { bool, nonEmpty, objectOnly, showValue, strict } from '../fields.ts'
import { defineWriter, type WriterSection } from './descriptor.ts'
import { FILE_DEFAULTS, FileWriter } from './file.ts'
import { loadWriterModule } from './module.ts'
import { isRemoteModule, REMOTE_MODULE_CONSENT } from './remote-module.ts'
import { StdoutWriter } from './stdout.ts'

/** Environment variables of the file and module writers. */
export const BUILTIN_WRITER_ENV = {
  filePath: 'PG_TO_BROKERS_FILE_PATH',
  writerModule: 'PG_TO_BROKERS_WRITER_MODULE',
  allowRemoteWriterModule: 'PG_TO_BROKERS_ALLOW_REMOTE_WRITER_MODULE',
} as const

export const stdoutWriter = defineWriter({
  type: 'stdout',
  schema: strict({ type: v.literal('stdout') }, ' for writer type "stdout"'),
  settings: [],
  async create() {
    return new StdoutWriter()
  },
})

export const fileWriter = defineWriter({
  type: 'file',
  schema: strict({ type: v.literal('file'), path: nonEmpty('a file path'), fsync: v.optional(bool, FILE_DEFAULTS.fsync) }, ' for writer type "file"', {
    path: `required for writer type "file"; set --file, ${BUILTIN_WRITER_ENV.filePath}, or writer.path in the config file`,
  }),
  settings: [
    {
      key: 'path',
      flag: '--file',
      arg: '<path>',
      env: BUILTIN_WRITER_ENV.filePath,
      help: ['append JSON lines to this file (implies --writer file)', `env ${BUILTIN_WRITER_ENV.filePath}; no default`],
    },
  ],
  async create(section) {
    return new FileWriter({ path: section.path, fsync: section.fsync })
  },
})

/** `--writer-option key=value`: one more option for the module, as text. */
function setModuleOption(section: WriterSection, text: string): string | undefined {
  const eq = text.indexOf('=')
  if (eq <= 0) return `expected key=value, got ${showValue(text)}`
  section.options = { ...(section.options as Record<string, unknown> | undefined), [text.slice(0, eq)]: text.slice(eq + 1) }
  return undefined
}

export const moduleWriter = defineWriter({
  type: 'module',
  schema: strict(
    {
      type: v.literal('module'),
      path: nonEmpty('a file path or URL of a module whose default export is a StreamWriter subclass'),
      options: v.optional(objectOnly(v.record(v.string(), v.unknown()), 'expected an object of writer options'), () => ({})),
      // An http:, https:, npm: or jsr: module is code fetched at every start: it runs only when allowed.
      allowRemote: v.optional(bool),
    },
    ' for writer type "module"',
    { path: `required for writer type "module"; set --writer-module, ${BUILTIN_WRITER_ENV.writerModule}, or writer.path in the config file` },
  ),
  settings: [
    {
      key: 'path',
      flag: '--writer-module',
      arg: '<path>',
      env: BUILTIN_WRITER_ENV.writerModule,
      help: [
        'file path or URL of a module whose default export is a StreamWriter',
        'subclass, or a function returning a writer (an object with',
        'publish(records)); implies --writer module;',
        `env ${BUILTIN_WRITER_ENV.writerModule}`,
      ],
    },
    {
      key: 'allowRemote',
      flag: '--allow-remote-writer-module',
      env: BUILTIN_WRITER_ENV.allowRemoteWriterModule,
      choosesType: false,
      help: [
        'let --writer-module be an http:, https:, npm: or jsr: specifier:',
        "code fetched and run with this process's rights at every start;",
        `env ${BUILTIN_WRITER_ENV.allowRemoteWriterModule}; default off`,
      ],
    },
    {
      key: 'options',
      flag: '--writer-option',
      arg: '<key=value>',
      apply: setModuleOption,
      choosesType: false,
      plural: true,
      help: ['option passed to the module writer, as text; repeatable;', 'no env variable'],
    },
  ],
  problems(section) {
    if (section.allowRemote === true || !isRemoteModule(section.path)) return []
    return [`writer.path: ${showValue(section.path)} is a remote module: ${REMOTE_MODULE_CONSENT}`]
  },
  async create(section, { resolveModule }) {
    if (isRemoteModule(section.path) && section.allowRemote !== true) {
      throw new PgToBrokersError(
        'writer_module_remote',
        `writer module "${section.path.replace(/:\/\/[^\s/@]*@/, '://***@')}" is remote: ${REMOTE_MODULE_CONSENT}`,
      )
    }
    return loadWriterModule(resolveModule(section.path), section.path, section.options)
  },
})
