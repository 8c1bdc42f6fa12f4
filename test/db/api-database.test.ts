/**
 * The API over its real databases: the embedded one (a DATA_DIR of the test's) and a real
 * PostgreSQL server started for this file. Pages and their Link header, data kept across a
 * restart, two instances on one PostgreSQL, the database going away and coming back (503 with
 * Retry-After, readiness 503, liveness 200, then 200 again by itself), credentials never in
 * the logs.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.js'
import { AUDIENCE, buildTestApp, startTestApi, type TestApi } from '../helpers/test-api.js'
import { startTestPostgres, type TestPostgres } from '../helpers/test-postgres.js'

let postgres: TestPostgres
let dataDir: string

beforeAll(async () => {
  postgres = await startTestPostgres()
  dataDir = await mkdtemp(join(tmpdir(), 'api-db-test-'))
})
afterAll(async () => {
  await postgres?.close()
  await rm(dataDir, { recursive: true, force: true })
})

function auth(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` }
}

async function post(app: FastifyInstance, token: string, text: string): Promise<{ id: string }> {
  const res = await app.inject({ method: 'POST', url: '/api/messages', headers: auth(token), payload: { text } })
  expect(res.statusCode, res.body).toBe(201)
  return res.json()
}

async function eventually(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) throw new Error('not within the time allowed')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe('the embedded database (DATA_DIR)', () => {
  it('pages the list newest first with a Link header built from PUBLIC_URL, and refuses a bad cursor or limit', async () => {
    const api = await startTestApi({ env: { DATA_DIR: join(dataDir, 'pages'), PUBLIC_URL: 'https://api.example.test/base' } })
    try {
      const token = api.token()
      for (let i = 0; i < 25; i++) await post(api.app, token, `m${i}`)
      const first = await api.app.inject({ url: '/api/messages', headers: auth(token) })
      expect(first.statusCode).toBe(200)
      expect(first.json().map((m: { text: string }) => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `m${24 - i}`))
      const link = String(first.headers.link)
      expect(link).toContain('<https://api.example.test/base/api/messages?limit=20>; rel="first"')
      const next = /<([^>]+)>; rel="next"/.exec(link)?.[1]
      expect(next).toMatch(/^https:\/\/api\.example\.test\/base\/api\/messages\?limit=20&cursor=/)
      const url = new URL(next!)
      const second = await api.app.inject({ url: `/api/messages${url.search}`, headers: auth(token) })
      expect(second.json().map((m: { text: string }) => m.text)).toEqual(['m4', 'm3', 'm2', 'm1', 'm0'])
      expect(String(second.headers.link)).not.toContain('rel="next"')
      const small = await api.app.inject({ url: '/api/messages?limit=1', headers: auth(token) })
      expect(small.json()).toHaveLength(1)

      const bad = await api.app.inject({ url: '/api/messages?cursor=bm9wZQ', headers: auth(token) })
      expect(bad.statusCode).toBe(400)
      expect(bad.json()).toMatchObject({ code: 'ERR_INVALID_CURSOR', status: 400 })
      for (const limit of ['0', '101', 'x', '-1']) {
        const res = await api.app.inject({ url: `/api/messages?limit=${limit}`, headers: auth(token) })
        expect(res.statusCode).toBe(400)
        expect(res.json().code).toBe('ERR_VALIDATION')
      }
    } finally {
      await api.close()
    }
  })

  it('keeps the messages across a restart', async () => {
    const dir = join(dataDir, 'restart')
    const api = await startTestApi({ env: { DATA_DIR: dir } })
    const message = await post(api.app, api.token(), 'kept')
    await api.app.close()
    const again = await buildTestApp({ AUTH_ISSUER: api.issuer.url, AUTH_AUDIENCE: AUDIENCE, DATA_DIR: dir })
    try {
      const res = await again.inject({ url: `/api/messages/${message.id}`, headers: auth(api.token()) })
      expect(res.statusCode).toBe(200)
      expect(res.json().text).toBe('kept')
    } finally {
      await again.close()
      await api.close().catch(() => {})
    }
  })

  it('stops start-up with one line naming DATA_DIR when it cannot be written', async () => {
    const file = join(dataDir, 'a-file')
    await (await import('node:fs/promises')).writeFile(file, '')
    await expect(
      buildTestApp(
        { AUTH_ISSUER: 'https://issuer.example.test/', AUTH_AUDIENCE: AUDIENCE, DATA_DIR: join(file, 'below') },
        { waitForKeys: false }
      )
    ).rejects.toThrow(/^DATA_DIR: cannot create or open the database/)
  })
})

describe('PostgreSQL (DATABASE_URL)', () => {
  let url: string
  let a: TestApi
  let b: FastifyInstance
  const lines: string[] = []

  beforeAll(async () => {
    url = await postgres.createDatabase()
    a = await startTestApi({
      env: { DATABASE_URL: url, LOG_LEVEL: 'info' },
      logStream: {
        write: (line) => {
          lines.push(line)
        }
      }
    })
    b = await buildTestApp(
      { AUTH_ISSUER: a.issuer.url, AUTH_AUDIENCE: AUDIENCE, DATABASE_URL: url, LOG_LEVEL: 'info' },
      {
        logStream: {
          write: (line) => {
            lines.push(line)
          }
        }
      }
    )
  })
  afterAll(async () => {
    await b?.close()
    await a?.close()
  })

  it("two instances on one database see each other's writes", async () => {
    const token = a.token({ sub: 'shared-user' })
    const message = await post(a.app, token, 'written on A')
    const read = await b.inject({ url: `/api/messages/${message.id}`, headers: auth(token) })
    expect(read.statusCode).toBe(200)
    const list = await b.inject({ url: '/api/messages', headers: auth(token) })
    expect(list.json().map((m: { id: string }) => m.id)).toEqual([message.id])
    expect((await b.inject({ method: 'DELETE', url: `/api/messages/${message.id}`, headers: auth(token) })).statusCode).toBe(204)
    expect((await a.app.inject({ url: `/api/messages/${message.id}`, headers: auth(token) })).statusCode).toBe(404)
  })

  it('answers 503 with Retry-After while the database is away, keeps liveness, and recovers by itself', async () => {
    const token = a.token({ sub: 'outage-user' })
    await post(a.app, token, 'before the outage')
    expect((await a.app.inject({ url: '/health/ready' })).statusCode).toBe(200)
    await postgres.stop()
    try {
      for (const request of [
        { url: '/api/messages' },
        { method: 'POST' as const, url: '/api/messages', payload: { text: 'during' } },
        { url: '/api/messages/00000000-0000-4000-8000-000000000000' }
      ]) {
        const res = await a.app.inject({ ...request, headers: auth(token) })
        expect(res.statusCode, res.body).toBe(503)
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
        expect(res.headers['retry-after']).toBe('5')
        expect(res.json()).toMatchObject({ status: 503, code: 'ERR_DATABASE_UNAVAILABLE' })
        expect(res.body).not.toMatch(/ECONNREFUSED|at \w+ \(|postgres:\/\//)
      }
      const ready = await a.app.inject({ url: '/health/ready' })
      expect(ready.statusCode).toBe(503)
      expect(ready.json().code).toBe('ERR_DATABASE_UNAVAILABLE')
      expect((await a.app.inject({ url: '/health/live' })).statusCode).toBe(200)
    } finally {
      await postgres.start()
    }
    await eventually(async () => (await a.app.inject({ url: '/api/messages', headers: auth(token) })).statusCode === 200)
    expect((await a.app.inject({ url: '/health/ready' })).statusCode).toBe(200)
    const list = await b.inject({ url: '/api/messages', headers: auth(token) })
    expect(list.json().map((m: { text: string }) => m.text)).toEqual(['before the outage'])
  })

  it("never writes the URL's password into a log line", () => {
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.some((line) => line.includes('database'))).toBe(true)
    for (const line of lines) expect(line).not.toContain(postgres.password)
  })

  it('bounds a slow statement with the statement timeout: a 503, not a hang', async () => {
    const { openDatabase, DatabaseUnavailable } = await import('../../src/db/database.js')
    const { sql } = await import('kysely')
    const database = openDatabase({ engine: 'postgres', url, poolSize: 1, statementTimeoutMs: 200 })
    try {
      const started = Date.now()
      await expect(database.run(async (db) => sql`select pg_sleep(3)`.execute(db))).rejects.toBeInstanceOf(DatabaseUnavailable)
      expect(Date.now() - started).toBeLessThan(1500)
      await expect(database.run(async (db) => sql`select 1 as one`.execute(db))).resolves.toMatchObject({ rows: [{ one: 1 }] })
    } finally {
      await database.close()
    }
  })

  it('starts while the database is unreachable (readiness 503), and serves once it answers', async () => {
    await postgres.stop()
    let app: FastifyInstance | undefined
    try {
      const fresh = url.replace(/\/[^/]+$/, '/postgres')
      app = await buildTestApp({ AUTH_ISSUER: a.issuer.url, AUTH_AUDIENCE: AUDIENCE, DATABASE_URL: fresh })
      expect((await app.inject({ url: '/health/ready' })).statusCode).toBe(503)
      expect((await app.inject({ url: '/api/messages', headers: auth(a.token()) })).json().code).toBe('ERR_DATABASE_UNAVAILABLE')
    } finally {
      await postgres.start()
    }
    await eventually(async () => (await app!.inject({ url: '/health/ready' })).statusCode === 200)
    await app.close()
  })
})

describe('the database variables', () => {
  const base = { AUTH_ISSUER: 'https://issuer.example.test/', AUTH_AUDIENCE: AUDIENCE }
  it.each([
    ['DATABASE_URL', { DATABASE_URL: 'mysql://user:hunter2-secret@db.example/app' }],
    ['DATABASE_URL', { DATABASE_URL: 'postgres://user:hunter2-secret@db.example' }],
    ['DATABASE_URL', { DATABASE_URL: 'not a url hunter2-secret' }],
    ['DATABASE_URL', { DATABASE_URL: 'postgres://user:hunter2-secret@db.example/app?sslmode=sometimes' }],
    ['DATABASE_POOL_SIZE', { DATABASE_URL: 'postgres://db.example/app', DATABASE_POOL_SIZE: '0' }],
    ['DATABASE_POOL_SIZE', { DATABASE_POOL_SIZE: 'many' }],
    ['DATABASE_STATEMENT_TIMEOUT_MS', { DATABASE_STATEMENT_TIMEOUT_MS: 'soon' }]
  ] as const)('a bad %s stops start-up with a line naming it, never the password', (variable, env) => {
    let error: unknown
    try {
      loadConfig({ ...base, ...env })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).variable).toBe(variable)
    expect((error as Error).message).not.toContain('hunter2')
  })

  it('defaults: embedded in ./data; PostgreSQL with a pool of 10 and TLS from the URL', () => {
    expect(loadConfig(base).database).toEqual({ engine: 'sqlite', dataDir: './data', statementTimeoutMs: 5000 })
    expect(loadConfig({ ...base, DATABASE_URL: 'postgresql://u:p@db.example:5432/app?sslmode=verify-full' }).database).toEqual({
      engine: 'postgres',
      url: 'postgresql://u:p@db.example:5432/app?sslmode=verify-full',
      poolSize: 10,
      statementTimeoutMs: 5000
    })
  })
})
