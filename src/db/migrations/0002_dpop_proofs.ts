/**
 * DPoP proofs seen (src/dpop/replay-store.ts): one row per proof key (a hash of its `jti` and
 * key) until its `iat` window has passed, so that a proof replayed against another replica is
 * refused. `expires_at` is in epoch seconds; the index serves the sweep of expired rows.
 */
import type { Kysely } from 'kysely'

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('dpop_proofs')
    .addColumn('key', 'text', (column) => column.primaryKey())
    .addColumn('expires_at', 'bigint', (column) => column.notNull())
    .execute()
  await db.schema.createIndex('dpop_proofs_expires_at').on('dpop_proofs').column('expires_at').execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('dpop_proofs').execute()
}
