/**
 * Messages and their owners. A message belongs to (issuer, kind, owner_id), never to a bare
 * `sub`: a second issuer's user with the same `sub` is another owner. The owners row carries
 * the count the per-owner limit checks, under the row's lock (src/messages/sql-message-store.ts).
 */
import { sql, type Kysely } from 'kysely'

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('owners')
    .addColumn('issuer', 'text', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull().check(sql`kind in ('user', 'client')`))
    .addColumn('owner_id', 'text', (column) => column.notNull())
    .addColumn('message_count', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('last_seq', 'integer', (column) => column.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('owners_pk', ['issuer', 'kind', 'owner_id'])
    .execute()
  await db.schema
    .createTable('messages')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('issuer', 'text', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('owner_id', 'text', (column) => column.notNull())
    .addColumn('seq', 'integer', (column) => column.notNull())
    .addColumn('text', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addForeignKeyConstraint('messages_owner_fk', ['issuer', 'kind', 'owner_id'], 'owners', ['issuer', 'kind', 'owner_id'])
    .addUniqueConstraint('messages_owner_seq', ['issuer', 'kind', 'owner_id', 'seq'])
    .execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('messages').execute()
  await db.schema.dropTable('owners').execute()
}
