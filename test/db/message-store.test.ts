/**
 * The message store's behaviour, the same cases against both real engines: the embedded one
 * (node:sqlite, a file in a temporary DATA_DIR) and a real PostgreSQL server started for this
 * file (test/helpers/test-postgres.ts). Two `Database`s on one database stand for two replicas.
 */
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DatabaseConfig } from '../../src/config.js'
import { openDatabase, type Database } from '../../src/db/database.js'
import { migrationProvider } from '../../src/db/migrations/index.js'
import { InvalidCursor } from '../../src/messages/cursor.js'
import { MessageLimitReached } from '../../src/messages/message-store.js'
import type { Owner } from '../../src/messages/owner.js'
import { SqlMessageStore } from '../../src/messages/sql-message-store.js'
import { useTestDatabases } from '../helpers/test-databases.js'

const { freshDatabase, opened } = useTestDatabases({ prefix: 'store-test', statementTimeoutMs: 5000 })

const alice: Owner = { issuer: 'https://a.example/', kind: 'user', id: 'alice' }

describe.each(['sqlite', 'postgres'] as const)('the message store on %s', (engine) => {
  let config: DatabaseConfig
  let database: Database
  let store: SqlMessageStore

  beforeAll(async () => {
    config = await freshDatabase(engine)
    database = await opened(config)
    store = new SqlMessageStore(database)
  })
  afterAll(async () => {
    await database?.close()
  })

  it('creates, reads, lists and deletes a message', async () => {
    const owner: Owner = { ...alice, id: 'crud' }
    const message = await store.create(owner, 'hello')
    expect(message).toEqual({ id: expect.any(String), text: 'hello', createdAt: expect.any(String) })
    expect(await store.get(owner, message.id)).toEqual(message)
    expect(await store.list(owner, { limit: 20 })).toEqual({ items: [message] })
    expect(await store.delete(owner, message.id)).toBe(true)
    expect(await store.delete(owner, message.id)).toBe(false)
    expect(await store.get(owner, message.id)).toBeUndefined()
  })

  it("keeps one owner's messages from another issuer's user with the same sub, and from a client with that id", async () => {
    const mine = await store.create({ ...alice, id: 'same-sub' }, 'issuer A')
    const otherIssuer: Owner = { issuer: 'https://b.example/', kind: 'user', id: 'same-sub' }
    const client: Owner = { ...alice, kind: 'client', id: 'same-sub' }
    for (const other of [otherIssuer, client]) {
      expect(await store.get(other, mine.id)).toBeUndefined()
      expect((await store.list(other, { limit: 20 })).items).toEqual([])
      expect(await store.delete(other, mine.id)).toBe(false)
    }
    expect(await store.get({ ...alice, id: 'same-sub' }, mine.id)).toEqual(mine)
  })

  it('lists newest first, a page at a time, and refuses a cursor it did not issue', async () => {
    const owner: Owner = { ...alice, id: 'pages' }
    const created = []
    for (let i = 0; i < 7; i++) created.push(await store.create(owner, `m${i}`))
    const newestFirst = created.reverse().map((message) => message.text)
    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = await store.list(owner, { limit: 3, cursor })
      seen.push(...page.items.map((message) => message.text))
      cursor = page.nextCursor
      pages++
    } while (cursor !== undefined)
    expect(seen).toEqual(newestFirst)
    expect(pages).toBe(3)
    await expect(store.list(owner, { limit: 3, cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(InvalidCursor)
    await expect(store.list(owner, { limit: 3, cursor: Buffer.from('m1:0').toString('base64url') })).rejects.toBeInstanceOf(InvalidCursor)
  })

  it('holds the per-owner limit when creates race on two replicas: exactly the allowed number succeed', async () => {
    const other = await opened(config)
    try {
      const max = 5
      const replicas = [new SqlMessageStore(database, max), new SqlMessageStore(other, max)]
      const owner: Owner = { ...alice, id: 'race' }
      for (let i = 0; i < max - 1; i++) await replicas[i % 2]!.create(owner, `before ${i}`)
      // at the limit minus one: two creates at once, one per replica
      const [first, second] = await Promise.allSettled([replicas[0]!.create(owner, 'a'), replicas[1]!.create(owner, 'b')])
      const outcomes = [first, second].map((result) =>
        result.status === 'fulfilled' ? 'created' : result.reason instanceof MessageLimitReached ? '409' : String(result.reason)
      )
      expect(outcomes.sort()).toEqual(['409', 'created'])
      // and a burst: none gets past the limit
      const owner2: Owner = { ...alice, id: 'burst' }
      const burst = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => replicas[i % 2]!.create(owner2, `burst ${i}`)))
      expect(burst.filter((result) => result.status === 'fulfilled')).toHaveLength(max)
      expect(burst.filter((result) => result.status === 'rejected' && result.reason instanceof MessageLimitReached)).toHaveLength(12 - max)
      expect((await replicas[1]!.list(owner2, { limit: 100 })).items).toHaveLength(max)
      // a delete frees a place
      const [one] = (await replicas[0]!.list(owner2, { limit: 1 })).items
      expect(await replicas[1]!.delete(owner2, one!.id)).toBe(true)
      await expect(replicas[0]!.create(owner2, 'again')).resolves.toMatchObject({ text: 'again' })
    } finally {
      await other.close()
    }
  })

  it("sees another replica's writes at once", async () => {
    const other = await opened(config)
    try {
      const owner: Owner = { ...alice, id: 'shared' }
      const message = await new SqlMessageStore(other).create(owner, 'from the other replica')
      expect(await store.get(owner, message.id)).toEqual(message)
    } finally {
      await other.close()
    }
  })

  it('keeps the data across a restart', async () => {
    const owner: Owner = { ...alice, id: 'restart' }
    const first = await opened(config)
    const message = await new SqlMessageStore(first).create(owner, 'kept')
    await first.close()
    const second = await opened(config)
    try {
      expect(await new SqlMessageStore(second).get(owner, message.id)).toEqual(message)
    } finally {
      await second.close()
    }
  })

  it('applies the migrations once when several instances start at once', async () => {
    const fresh = await freshDatabase(engine)
    const instances = Array.from({ length: 5 }, () => openDatabase(fresh))
    try {
      const all = Object.keys(await migrationProvider.getMigrations()).sort()
      const applied = await Promise.all(instances.map((instance) => instance.migrate()))
      expect(applied.flat().sort()).toEqual(all)
      const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(instances[0]!.db)
      expect(rows.map((row) => row.name)).toEqual(all)
      await expect(new SqlMessageStore(instances[1]!).create(alice, 'works')).resolves.toMatchObject({ text: 'works' })
    } finally {
      await Promise.all(instances.map((instance) => instance.close()))
    }
  })
})
