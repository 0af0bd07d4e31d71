/** @module Makes sure the publication and the slot exist and fit, before streaming starts. */
import { PgToBrokersError } from '../errors.ts'
import type { Catalog } from '../pg/catalog.ts'
import type { Logger } from '../logger.ts'
import { prepareSlot, type SlotContext, type SlotCreation, type SlotOptions } from './slot.ts'

export interface SourceOptions extends SlotOptions {
  readonly publication: string
  /** Tables for a publication this tool creates; empty means all tables. */
  readonly tables: readonly string[]
  readonly createPublication: boolean
  /** Wait for a slot in use by another process instead of failing (see standby.ts). */
  readonly standby?: boolean
}

/**
 * Checks (and, where allowed, creates) the publication, then the slot. The publication comes
 * first: pgoutput looks publications up as of each decoded change, so a slot older than its
 * publication fails on the changes in between. Returns whether it created the slot.
 */
export async function prepareSource(catalog: Catalog, options: SourceOptions, context: SlotContext, logger: Logger, creation?: SlotCreation): Promise<boolean> {
  await preparePublication(catalog, options, logger)
  return await prepareSlot(catalog, options, context, logger, creation)
}

/** Checks (and, where allowed, creates) the publication, and warns of published tables without a key. */
export async function preparePublication(catalog: Catalog, options: SourceOptions, logger: Logger): Promise<void> {
  const missing = await catalog.missingTables(options.tables)
  if (missing.length > 0) {
    throw new PgToBrokersError('table_missing', `configured table${missing.length > 1 ? 's' : ''} not found: ${missing.join(', ')}`)
  }
  if (!(await catalog.publicationExists(options.publication))) {
    if (!options.createPublication) {
      throw new PgToBrokersError(
        'publication_missing',
        `publication "${options.publication}" does not exist: create it (CREATE PUBLICATION … FOR ALL TABLES) or enable createPublication`,
      )
    }
    await catalog.createPublication(options.publication, options.tables)
    logger.info('created publication', { publication: options.publication, tables: options.tables.join(',') || 'ALL TABLES' })
  } else {
    await checkPublicationTables(catalog, options)
  }
  const keyless = await catalog.tablesWithoutReplicaIdentity(options.publication)
  if (keyless.length > 0) {
    logger.warn(
      `published tables without a primary key or replica identity (PostgreSQL refuses UPDATE and DELETE on them while they are published; ` +
        `add a primary key or set REPLICA IDENTITY): ${keyless.join(', ')}`,
      { publication: options.publication },
    )
  }
}

/** An existing publication must publish every configured table: otherwise its changes would silently never come. */
async function checkPublicationTables(catalog: Catalog, options: SourceOptions): Promise<void> {
  if (options.tables.length === 0) return
  const absent = await catalog.tablesNotInPublication(options.publication, options.tables)
  if (absent.length === 0) return
  const list = absent.join(', ')
  throw new PgToBrokersError(
    'publication_missing_table',
    `publication "${options.publication}" does not include the configured table${absent.length > 1 ? 's' : ''} ${list}: ` +
      `add ${absent.length > 1 ? 'them' : 'it'} with ALTER PUBLICATION … ADD TABLE ${list}, or remove ${absent.length > 1 ? 'them' : 'it'} from tables`,
  )
}
