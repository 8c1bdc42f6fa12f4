/**
 * A closed database stays closed: every query through the handle after close() rejects with
 * "the database is closed" (DatabaseClosed), on both engines, and on PostgreSQL no connection
 * is opened again: not by the pipelined read and write connections (Kysely instances that
 * never ran a query before close, which Kysely's destroy() alone leaves usable), not by the
 * handle's own Kysely, not through the app after app.close(). Connections are counted by the
 * server itself (pg_stat_activity).
 */
import { CompiledQuery, sql } from 'kysely'
import pg from 'pg'
import { describe, expect, it, vi } from 'vitest'
import type { DatabaseConfig } from '../../src/config.js'
import { DatabaseClosed, openDatabase, type Database } from '../../src/db/database.js'
import { buildTestApp, AUDIENCE } from '../helpers/test-api.js'
import { useTestDatabases } from '../helpers/test-databases.js'

const databases = useTestDatabases({ prefix: 'db-close', statementTimeoutMs: 2000 })

const SELECT_ONE = CompiledQuery.raw('select 1 as one')

/** The configuration of a new empty PostgreSQL database. */
async function freshPostgres(): Promise<Extract<DatabaseConfig, { engine: 'postgres' }>> {
  const config = await databases.freshDatabase('postgres')
  if (config.engine !== 'postgres') throw new Error('expected a PostgreSQL database')
  return config
}

/** The API's connections to the database of `url`, as the server lists them. */
async function connectionsTo(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: databases.postgres.url() })
  await client.connect()
  try {
    const { rows } = await client.query<{ count: number }>(
      "select count(*)::int as count from pg_stat_activity where datname = $1 and application_name = 'resource-api'",
      [new URL(url).pathname.slice(1)]
    )
    return rows[0]?.count ?? -1
  } finally {
    await client.end()
  }
}

/** Every way the handle runs a query rejects with DatabaseClosed, and ping answers false. */
async function expectRefused(database: Database): Promise<void> {
  const attempts: Record<string, () => Promise<unknown>> = {
    run: () => database.run((db) => sql`select 1`.execute(db)),
    read: () => database.read(SELECT_ONE),
    write: () => database.write(SELECT_ONE),
    migrate: () => database.migrate()
  }
  for (const [name, attempt] of Object.entries(attempts)) {
    const error = await attempt().then(
      () => undefined,
      (reason: unknown) => reason
    )
    expect(error, name).toBeInstanceOf(DatabaseClosed)
    expect((error as Error).message, name).toBe('the database is closed')
  }
  expect(await database.ping()).toBe(false)
}

describe.each(['sqlite', 'postgres'] as const)('%s: a query after close', (engine) => {
  it('rejects with "the database is closed", however it is made', async () => {
    const database = await databases.opened(await databases.freshDatabase(engine))
    // in use before: reads and writes answer
    expect((await database.read(SELECT_ONE)).rows).toEqual([{ one: 1 }])
    expect((await database.write(SELECT_ONE)).rows).toEqual([{ one: 1 }])
    await database.close()
    await expectRefused(database)
    // closing again is harmless, and still closed
    await database.close()
    await expectRefused(database)
  })
})

describe('postgres: nothing reopens a connection after close', () => {
  it('the pipelined connections that never ran a query are not opened by a read or write after close', async () => {
    const config = await freshPostgres()
    // migrated (the pool has run queries), but no read or write yet: their Kysely instances never started
    const database = await databases.opened(config)
    expect(await connectionsTo(config.url)).toBeGreaterThan(0)
    await database.close()
    await vi.waitFor(async () => expect(await connectionsTo(config.url)).toBe(0), { timeout: 5000, interval: 50 })

    // whatever they answer, a read and a write after close open no connection
    const settled = await Promise.allSettled([database.read(SELECT_ONE), database.write(SELECT_ONE), sql`select 1`.execute(database.db)])
    expect(await connectionsTo(config.url)).toBe(0)
    expect(settled.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected'])
    await expectRefused(database)
    expect(await connectionsTo(config.url)).toBe(0)
  })

  it('a handle closed before its first query refuses through its own Kysely too, without connecting', async () => {
    const config = await freshPostgres()
    const database = openDatabase(config)
    await database.close()
    await expect(sql`select 1`.execute(database.db)).rejects.toThrow(new DatabaseClosed())
    await expectRefused(database)
    expect(await connectionsTo(config.url)).toBe(0)
  })

  it('through the app: after app.close(), app.database refuses and opens nothing', async () => {
    const config = await freshPostgres()
    const app = await buildTestApp(
      { AUTH_ISSUER: 'https://issuer.example.test/', AUTH_AUDIENCE: AUDIENCE, DATABASE_URL: config.url },
      { waitForKeys: false }
    )
    expect(app.database.migrated).toBe(true)
    await app.close()
    await vi.waitFor(async () => expect(await connectionsTo(config.url)).toBe(0), { timeout: 5000, interval: 50 })
    await expectRefused(app.database)
    expect(await connectionsTo(config.url)).toBe(0)
  })
})

describe('sqlite: one file, two handles', () => {
  it('the closed handle refuses; the other one, sharing the connection, still answers', async () => {
    const config = await databases.freshDatabase('sqlite')
    const first = await databases.opened(config)
    const second = await databases.opened(config)
    try {
      await first.close()
      await expectRefused(first)
      expect((await second.read(SELECT_ONE)).rows).toEqual([{ one: 1 }])
      expect(await second.ping()).toBe(true)
    } finally {
      await second.close()
    }
  })
})
