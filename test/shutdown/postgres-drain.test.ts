/**
 * SIGTERM with PostgreSQL: a write in flight when the signal arrives finishes (201) and is in
 * the database, because the pool closes only after the server has drained; then the process
 * exits 0. The write is in flight for an honest reason: its token carries a key rotated in a
 * moment ago, and the issuer takes 1.5 s to answer the refetch it causes, so the INSERT runs
 * after the signal.
 */
import type { ChildProcess } from 'node:child_process'
import { request } from 'node:http'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { freePort } from '../../scripts/free-port.js'
import { signJwt } from '../helpers/jwt-sign.js'
import { makeKey, type TestKey } from '../helpers/keys.js'
import { spawnServer } from '../helpers/server-process.js'
import { AUDIENCE } from '../helpers/test-api.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'
import { startTestPostgres, type TestPostgres } from '../helpers/test-postgres.js'

const SLOW_JWKS_MS = 1500

function writerToken(issuer: string, key: TestKey): string {
  const now = Math.floor(Date.now() / 1000)
  return signJwt(key, {
    iss: issuer,
    sub: 'writer',
    aud: AUDIENCE,
    iat: now,
    exp: now + 300,
    client_id: 'test-client',
    scope: 'write:messages'
  })
}

/** One request on its own connection: the status and body, or the connection error's code. */
function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false, timeout: 15_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('client timeout')))
    req.on('error', reject)
    req.end(body)
  })
}

let postgres: TestPostgres
let issuer: TestIssuer | undefined
let child: ChildProcess | undefined

beforeAll(async () => {
  postgres = await startTestPostgres()
}, 60_000)
afterAll(async () => {
  await postgres?.close()
})
afterEach(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  child = undefined
  await issuer?.close()
  issuer = undefined
})

describe('graceful shutdown with PostgreSQL', () => {
  it('a write in flight at SIGTERM completes (201) and is stored; the process then exits 0', async () => {
    const key = makeKey('RS256')
    issuer = await startTestIssuer({ keys: [key] })
    const databaseUrl = await postgres.createDatabase()
    const port = await freePort()
    const server = spawnServer({
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      AUTH_ISSUER: issuer.url,
      AUTH_AUDIENCE: AUDIENCE,
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'warn'
    })
    child = server.child
    await vi.waitFor(
      async () => {
        expect(server.child.exitCode, server.output()).toBeNull()
        expect((await send(port, 'GET', '/health/ready', {})).status).toBe(200)
      },
      { timeout: 25_000, interval: 100 }
    )

    // the write's token needs a key the issuer is slow to publish
    const next = makeKey('ES256')
    issuer.setKeys([key, next])
    issuer.setJwksFault({ delayMs: SLOW_JWKS_MS })
    const jwksHits = issuer.hits.jwks
    const text = `written while the server drains ${Date.now()}`
    const inFlight = send(
      port,
      'POST',
      '/api/messages',
      { authorization: `Bearer ${writerToken(issuer.url, next)}`, 'content-type': 'application/json' },
      JSON.stringify({ text })
    )
    const issuerRef = issuer
    await vi.waitFor(() => expect(issuerRef.hits.jwks).toBe(jwksHits + 1), { timeout: 5000, interval: 10 })
    server.child.kill('SIGTERM')

    const answer = await inFlight
    expect(answer.status, answer.body).toBe(201)
    expect(JSON.parse(answer.body)).toMatchObject({ text })
    const exit = await server.exited
    expect({ code: exit.code, signal: exit.signal }, server.output()).toEqual({ code: 0, signal: null })

    // the row is there, written through the pool before it closed
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    try {
      const { rows } = await client.query<{ count: string }>('select count(*) as count from messages where text = $1', [text])
      expect(rows[0]?.count).toBe('1')
    } finally {
      await client.end()
    }
  }, 60_000)
})
