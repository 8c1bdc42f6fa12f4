/**
 * Queries compiled once (src/db/prepared-query.ts) and the PostgreSQL read path they take
 * (`Database.read`, pipelined connections shared by the requests in flight), against the
 * real engines: the embedded one and a PostgreSQL server started for this file.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CompiledQuery } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase, type Database } from '../../src/db/database.js'
import { prepareQuery } from '../../src/db/prepared-query.js'
import type { Owner } from '../../src/messages/owner.js'
import { SqlMessageStore } from '../../src/messages/sql-message-store.js'
import { startTestPostgres, type TestPostgres } from '../helpers/test-postgres.js'

let postgres: TestPostgres
let dir: string

beforeAll(async () => {
  postgres = await startTestPostgres()
  dir = await mkdtemp(join(tmpdir(), 'prepared-query-test-'))
})
afterAll(async () => {
  await postgres?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('prepareQuery', () => {
  it('compiles once and maps each named parameter to its placeholders, keeping constants', async () => {
    const database = openDatabase({ engine: 'sqlite', dataDir: dir, statementTimeoutMs: 5000 })
    try {
      const { db } = database
      const query = prepareQuery(['issuer', 'limit'], (param) =>
        db
          .selectFrom('messages')
          .select('id')
          .where('issuer', '=', param('issuer'))
          .where('seq', '>', 0)
          .where('owner_id', '=', param('issuer'))
          .limit(param('limit'))
      )
      const first = query({ issuer: 'a', limit: 5 })
      const second = query({ issuer: 'b', limit: 7 })
      expect(second.sql).toBe(first.sql)
      expect(first.parameters).toEqual(['a', 0, 'a', 5])
      expect(second.parameters).toEqual(['b', 0, 'b', 7])
      // the same SQL as the builder compiles with the values themselves
      expect(first.sql).toBe(
        db.selectFrom('messages').select('id').where('issuer', '=', 'a').where('seq', '>', 0).where('owner_id', '=', 'a').limit(5).compile()
          .sql
      )
      expect(() =>
        prepareQuery(['issuer', 'unused'], (param) => db.selectFrom('messages').select('id').where('issuer', '=', param('issuer')))
      ).toThrow(/unused/)
    } finally {
      await database.close()
    }
  })
})

describe('statements on PostgreSQL (pipelined connections: one for reads, two for writes)', () => {
  let database: Database

  beforeAll(async () => {
    database = openDatabase({ engine: 'postgres', url: await postgres.createDatabase(), poolSize: 6, statementTimeoutMs: 5000 })
    await database.migrate()
  })
  afterAll(async () => {
    await database?.close()
  })

  it('answers many reads at once, each with its own rows, while writes go on beside them', async () => {
    const store = new SqlMessageStore(database)
    const owners: Owner[] = Array.from({ length: 8 }, (_, i) => ({ issuer: 'https://p.example/', kind: 'user', id: `reader-${i}` }))
    await Promise.all(owners.map(async (owner) => Promise.all([1, 2, 3].map((n) => store.create(owner, `${owner.id} #${n}`)))))
    const pages = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const owner = owners[i % owners.length] as Owner
        if (i % 10 === 0) await store.create({ ...owner, id: `${owner.id}-writer` }, `write ${i}`)
        return { owner, page: await store.list(owner, { limit: 20 }) }
      })
    )
    for (const { owner, page } of pages) {
      expect(page.items).toHaveLength(3)
      for (const message of page.items) expect(message.text.startsWith(`${owner.id} #`)).toBe(true)
    }
  })

  it('fails only the statement that fails: the reads pipelined beside it get their answers', async () => {
    const store = new SqlMessageStore(database)
    const owner: Owner = { issuer: 'https://p.example/', kind: 'user', id: 'beside-a-failure' }
    const message = await store.create(owner, 'still here')
    const results = await Promise.allSettled([
      store.get(owner, message.id),
      database.read(CompiledQuery.raw('select $1::int / 0 as never', [1])),
      store.get(owner, message.id),
      store.list(owner, { limit: 5 })
    ])
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
    expect(await store.get(owner, message.id)).toEqual(message)
  })
})
