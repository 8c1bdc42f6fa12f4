/**
 * Every migration, in code (no folder read at run time, so the build and the image carry them).
 * Append a new one with the next number; never edit or reorder an applied one.
 */
import type { Migration, MigrationProvider } from 'kysely/migration'
import * as messages0001 from './0001_messages.js'
import * as dpopProofs0002 from './0002_dpop_proofs.js'

const MIGRATIONS: Record<string, Migration> = {
  '0001_messages': messages0001,
  '0002_dpop_proofs': dpopProofs0002
}

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return MIGRATIONS
  }
}
