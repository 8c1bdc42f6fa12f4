/**
 * Messages in the database (src/db), on SQLite and PostgreSQL with one set of Kysely queries.
 * Every change is one transaction: nothing is half-written.
 *
 * The per-owner limit holds across replicas: a create counts the message in the owner's row
 * with one upsert, `INSERT … ON CONFLICT DO UPDATE SET message_count = message_count + 1 …
 * WHERE message_count < max RETURNING last_seq`, which inserts the row for a new owner or
 * takes the existing row's lock. Two creates racing at the limit queue on that lock: PostgreSQL
 * evaluates the WHERE again on the row the first one committed (SQLite's BEGIN IMMEDIATE
 * serializes the writers), so exactly one gets nothing back, and a 409. The message itself is
 * inserted with the sequence number the upsert returned:
 * - on PostgreSQL in the same statement (the upsert as a data-modifying CTE): one statement,
 *   which is one transaction, sent without waiting for a pooled connection;
 * - on SQLite (no data-modifying CTEs) as a second statement of one BEGIN IMMEDIATE
 *   transaction, which costs no round trip: the database is in-process.
 *
 * Each query is built and compiled once (src/db/prepared-query.ts) and executed with the
 * request's values. The statements that stand alone (list and get: `Database.read`; the create
 * on PostgreSQL: `Database.write`) are pipelined on PostgreSQL.
 */
import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { prepareQuery } from '../db/prepared-query.js'
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

type OwnerParam = 'issuer' | 'kind' | 'ownerId'
const OWNER: readonly OwnerParam[] = ['issuer', 'kind', 'ownerId']

function ownerValues(owner: Owner): Record<OwnerParam, string> {
  return { issuer: owner.issuer, kind: owner.kind, ownerId: owner.id }
}

/** The store's queries, compiled once per database. */
function queries(db: Kysely<Schema>) {
  const owned = (param: (name: OwnerParam) => never) =>
    db
      .selectFrom('messages')
      .where('issuer', '=', param('issuer'))
      .where('kind', '=', param('kind'))
      .where('owner_id', '=', param('ownerId'))
  // counts one more message for the owner (its row created on its first message); no row back at the limit
  const count = (param: (name: OwnerParam | 'max') => never) =>
    db
      .insertInto('owners')
      .values({ issuer: param('issuer'), kind: param('kind'), owner_id: param('ownerId'), message_count: 1, last_seq: 1 })
      .onConflict((conflict) =>
        conflict
          .columns(['issuer', 'kind', 'owner_id'])
          .doUpdateSet((eb) => ({
            message_count: eb('owners.message_count', '+', 1),
            last_seq: eb('owners.last_seq', '+', 1)
          }))
          .where('owners.message_count', '<', param('max'))
      )
      .returning(['issuer', 'kind', 'owner_id', 'last_seq'])
  return {
    list: prepareQuery([...OWNER, 'limit'], (param) =>
      owned(param).select(['id', 'text', 'created_at', 'seq']).orderBy('seq', 'desc').limit(param('limit'))
    ),
    listBelow: prepareQuery([...OWNER, 'below', 'limit'], (param) =>
      owned(param)
        .select(['id', 'text', 'created_at', 'seq'])
        .where('seq', '<', param('below'))
        .orderBy('seq', 'desc')
        .limit(param('limit'))
    ),
    get: prepareQuery([...OWNER, 'id'], (param) => owned(param).select(['id', 'text', 'created_at']).where('id', '=', param('id'))),
    /** SQLite, in a transaction with `insert`. */
    count: prepareQuery([...OWNER, 'max'], count),
    insert: prepareQuery([...OWNER, 'id', 'seq', 'text', 'createdAt'], (param) =>
      db.insertInto('messages').values({
        id: param('id'),
        issuer: param('issuer'),
        kind: param('kind'),
        owner_id: param('ownerId'),
        seq: param('seq'),
        text: param('text'),
        created_at: param('createdAt')
      })
    ),
    /** PostgreSQL: `count` and `insert` as one statement. */
    countAndInsert: prepareQuery([...OWNER, 'max', 'id', 'text', 'createdAt'], (param) =>
      db
        .with('counted', () => count(param))
        .insertInto('messages')
        .columns(['id', 'issuer', 'kind', 'owner_id', 'seq', 'text', 'created_at'])
        .expression((eb) =>
          eb
            .selectFrom('counted')
            .select([
              eb.val(param('id')).as('id'),
              'issuer',
              'kind',
              'owner_id',
              'last_seq',
              eb.val(param('text')).as('text'),
              eb.val(param('createdAt')).as('created_at')
            ])
        )
        .returning('id')
    ),
    delete: prepareQuery([...OWNER, 'id'], (param) =>
      db
        .deleteFrom('messages')
        .where('id', '=', param('id'))
        .where('issuer', '=', param('issuer'))
        .where('kind', '=', param('kind'))
        .where('owner_id', '=', param('ownerId'))
    ),
    uncount: prepareQuery(OWNER, (param) =>
      db
        .updateTable('owners')
        .set((eb) => ({ message_count: eb('message_count', '-', 1) }))
        .where('issuer', '=', param('issuer'))
        .where('kind', '=', param('kind'))
        .where('owner_id', '=', param('ownerId'))
    )
  }
}

export class SqlMessageStore implements MessageStore {
  readonly #database: Database
  readonly #maxPerOwner: number
  readonly #queries: ReturnType<typeof queries>

  constructor(database: Database, maxPerOwner = DEFAULT_MAX_PER_OWNER) {
    this.#database = database
    this.#maxPerOwner = maxPerOwner
    this.#queries = queries(database.db)
  }

  async list(owner: Owner, page: PageRequest): Promise<Page<Message>> {
    const below = page.cursor === undefined ? undefined : decodeCursor(page.cursor)
    const { limit } = page
    const query =
      below === undefined
        ? this.#queries.list({ ...ownerValues(owner), limit: limit + 1 })
        : this.#queries.listBelow({ ...ownerValues(owner), below, limit: limit + 1 })
    const { rows } = await this.#database.read(query)
    const count = Math.min(rows.length, limit)
    const items = new Array<Message>(count)
    for (let i = 0; i < count; i++) {
      const row = rows[i] as (typeof rows)[number]
      items[i] = { id: row.id, text: row.text, createdAt: row.created_at }
    }
    return rows.length > limit ? { items, nextCursor: encodeCursor(Number(rows[limit - 1]?.seq)) } : { items }
  }

  async get(owner: Owner, id: string): Promise<Message | undefined> {
    const query = this.#queries.get({ ...ownerValues(owner), id })
    const { rows } = await this.#database.read(query)
    const row = rows[0]
    return row === undefined ? undefined : { id: row.id, text: row.text, createdAt: row.created_at }
  }

  async create(owner: Owner, text: string): Promise<Message> {
    const max = this.#maxPerOwner
    if (max < 1) throw new MessageLimitReached(max)
    const message: Message = { id: randomUUID(), text, createdAt: new Date().toISOString() }
    const values = { ...ownerValues(owner), max, id: message.id, text, createdAt: message.createdAt }
    const created =
      this.#database.engine === 'postgres'
        ? (await this.#database.write(this.#queries.countAndInsert(values))).rows.length === 1
        : await this.#database.run(async (db) =>
            db.transaction().execute(async (trx) => {
              const { rows } = await trx.executeQuery(this.#queries.count(values))
              const counted = rows[0]
              if (counted === undefined) return false
              await trx.executeQuery(this.#queries.insert({ ...values, seq: Number(counted.last_seq) }))
              return true
            })
          )
    if (!created) throw new MessageLimitReached(max)
    return message
  }

  async delete(owner: Owner, id: string): Promise<boolean> {
    const values = { ...ownerValues(owner), id }
    return this.#database.run(async (db) =>
      db.transaction().execute(async (trx) => {
        const deleted = await trx.executeQuery(this.#queries.delete(values))
        if (Number(deleted.numAffectedRows ?? 0) === 0) return false
        await trx.executeQuery(this.#queries.uncount(values))
        return true
      })
    )
  }
}
