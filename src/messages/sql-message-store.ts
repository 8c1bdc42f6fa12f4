/**
 * Messages in the database (src/db), the same queries on SQLite and PostgreSQL. Every change
 * is one transaction: nothing is half-written.
 *
 * The per-owner limit holds across replicas: a create first makes sure the owner's row exists
 * (INSERT … ON CONFLICT DO NOTHING), then raises its count with one conditional UPDATE
 * (`message_count < max`) that takes the row's lock. Two creates racing at the limit queue on
 * that lock (PostgreSQL re-reads the row once the first commits; SQLite's BEGIN IMMEDIATE
 * serializes the writers), so exactly one gets 409.
 */
import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import type { Schema } from '../db/schema.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import {
  DEFAULT_MAX_PER_OWNER,
  MessageLimitReached,
  type Message,
  type MessageStore,
  type Page,
  type PageRequest
} from './message-store.js'
import type { Owner } from './owner.js'

type Row = { id: string; text: string; created_at: string; seq: number }

function ownedBy(owner: Owner): { issuer: string; kind: string; owner_id: string } {
  return { issuer: owner.issuer, kind: owner.kind, owner_id: owner.id }
}

function toMessage(row: Pick<Row, 'id' | 'text' | 'created_at'>): Message {
  return { id: row.id, text: row.text, createdAt: row.created_at }
}

export class SqlMessageStore implements MessageStore {
  readonly #database: Database
  readonly #maxPerOwner: number

  constructor(database: Database, maxPerOwner = DEFAULT_MAX_PER_OWNER) {
    this.#database = database
    this.#maxPerOwner = maxPerOwner
  }

  async list(owner: Owner, page: PageRequest): Promise<Page<Message>> {
    const below = page.cursor === undefined ? undefined : decodeCursor(page.cursor)
    const rows = await this.#database.run(async (db) => {
      let query = db
        .selectFrom('messages')
        .select(['id', 'text', 'created_at', 'seq'])
        .where('issuer', '=', owner.issuer)
        .where('kind', '=', owner.kind)
        .where('owner_id', '=', owner.id)
      if (below !== undefined) query = query.where('seq', '<', below)
      return query
        .orderBy('seq', 'desc')
        .limit(page.limit + 1)
        .execute()
    })
    const items = rows.slice(0, page.limit)
    const last = items.at(-1)
    return {
      items: items.map(toMessage),
      ...(rows.length > page.limit && last !== undefined ? { nextCursor: encodeCursor(Number(last.seq)) } : {})
    }
  }

  async get(owner: Owner, id: string): Promise<Message | undefined> {
    const row = await this.#database.run(async (db) =>
      db
        .selectFrom('messages')
        .select(['id', 'text', 'created_at'])
        .where('id', '=', id)
        .where('issuer', '=', owner.issuer)
        .where('kind', '=', owner.kind)
        .where('owner_id', '=', owner.id)
        .executeTakeFirst()
    )
    return row === undefined ? undefined : toMessage(row)
  }

  async create(owner: Owner, text: string): Promise<Message> {
    const key = ownedBy(owner)
    const max = this.#maxPerOwner
    return this.#database.run(async (db) =>
      db.transaction().execute(async (trx: Kysely<Schema>) => {
        await trx
          .insertInto('owners')
          .values(key)
          .onConflict((conflict) => conflict.columns(['issuer', 'kind', 'owner_id']).doNothing())
          .execute()
        const counted = await trx
          .updateTable('owners')
          .set((eb) => ({ message_count: eb('message_count', '+', 1), last_seq: eb('last_seq', '+', 1) }))
          .where('issuer', '=', key.issuer)
          .where('kind', '=', key.kind)
          .where('owner_id', '=', key.owner_id)
          .where('message_count', '<', max)
          .returning('last_seq')
          .executeTakeFirst()
        if (counted === undefined) throw new MessageLimitReached(max)
        const message: Message = { id: randomUUID(), text, createdAt: new Date().toISOString() }
        await trx
          .insertInto('messages')
          .values({ ...key, id: message.id, seq: Number(counted.last_seq), text, created_at: message.createdAt })
          .execute()
        return message
      })
    )
  }

  async delete(owner: Owner, id: string): Promise<boolean> {
    const key = ownedBy(owner)
    return this.#database.run(async (db) =>
      db.transaction().execute(async (trx: Kysely<Schema>) => {
        const deleted = await trx
          .deleteFrom('messages')
          .where('id', '=', id)
          .where('issuer', '=', key.issuer)
          .where('kind', '=', key.kind)
          .where('owner_id', '=', key.owner_id)
          .executeTakeFirst()
        if (Number(deleted.numDeletedRows) === 0) return false
        await trx
          .updateTable('owners')
          .set((eb) => ({ message_count: eb('message_count', '-', 1) }))
          .where('issuer', '=', key.issuer)
          .where('kind', '=', key.kind)
          .where('owner_id', '=', key.owner_id)
          .execute()
        return true
      })
    )
  }
}
