/**
 * Graceful shutdown of the real server process (`node --import tsx server.ts`): on
 * SIGTERM it stops accepting, lets the request in flight finish, and exits 0 within a bound.
 * The in-flight request is slow for an honest reason: it carries a key rotated in a moment
 * ago, and the issuer takes 1.5 s to answer the refetch it causes.
 */
import type { ChildProcess } from 'node:child_process'
import { request } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { makeKey } from '../helpers/keys.js'
import { serverToken, spawnServer } from '../helpers/server-process.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'
import { AUDIENCE } from '../helpers/test-api.js'
import { freePort } from '../../scripts/free-port.js'

const SLOW_JWKS_MS = 1500
const EXIT_BOUND_MS = 6000

interface Answer {
  status: number
  body: string
  connection: string | undefined
}

/** One request on a new connection (no keep-alive pool): either an answer or a connection error code. */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 10_000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('client timeout')))
    req.on('error', reject)
    req.end()
  })
}

/** 'refused' (or reset) when no connection can be made, else the status. */
async function statusOrRefused(port: number, path: string, headers?: Record<string, string>): Promise<number | 'refused'> {
  try {
    return (await get(port, path, headers)).status
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return 'refused'
    throw error
  }
}

let child: ChildProcess | undefined
let issuer: TestIssuer | undefined
afterEach(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  child = undefined
  await issuer?.close()
  issuer = undefined
})

describe('graceful shutdown', () => {
  it('on SIGTERM: stops accepting, finishes the request in flight, exits 0', async () => {
    const key = makeKey('RS256')
    issuer = await startTestIssuer({ keys: [key], discovery: 'openid' })
    const port = await freePort()
    const {
      child: server,
      output,
      exited
    } = spawnServer({
      NODE_ENV: 'production', // no .env file, no development issuer
      HOST: '127.0.0.1',
      PORT: String(port),
      AUTH_ISSUER: issuer.url,
      AUTH_AUDIENCE: AUDIENCE,
      LOG_LEVEL: 'warn'
    })
    child = server

    // up and ready: the keys were fetched at start-up
    await vi.waitFor(
      async () => {
        expect(server.exitCode, output()).toBeNull()
        expect(await statusOrRefused(port, '/health/ready')).toBe(200)
      },
      { timeout: 25_000, interval: 100 }
    ) // tsx compiles the app on start: seconds on a busy machine
    expect(await statusOrRefused(port, '/api/me', { authorization: `Bearer ${serverToken(issuer.url, key)}` })).toBe(200)

    // a slow request: a key rotated in, whose refetch the issuer answers late
    const next = makeKey('ES256')
    issuer.setKeys([key, next])
    issuer.setJwksFault({ delayMs: SLOW_JWKS_MS })
    const jwksHits = issuer.hits.jwks
    const sentAt = performance.now()
    // asked to be kept alive: once the server stops listening, the answer closes the connection instead
    const inFlight = get(port, '/api/me', { authorization: `Bearer ${serverToken(issuer.url, next)}`, connection: 'keep-alive' })
    const issuerRef = issuer
    await vi.waitFor(
      () => {
        expect(issuerRef.hits.jwks).toBe(jwksHits + 1)
      },
      { timeout: 5000, interval: 10 }
    )

    const signalledAt = performance.now()
    server.kill('SIGTERM')

    // new connections are refused (or answered 503) while the request in flight goes on
    await vi.waitFor(
      async () => {
        expect(['refused', 503]).toContain(await statusOrRefused(port, '/health/ready'))
      },
      { timeout: 2000, interval: 20 }
    )
    expect(['refused', 503]).toContain(
      await statusOrRefused(port, '/api/me', { authorization: `Bearer ${serverToken(issuerRef.url, key)}` })
    )

    const answer = await inFlight
    expect(answer.status, answer.body).toBe(200)
    expect(JSON.parse(answer.body)).toMatchObject({ sub: 'user-1' })
    expect(answer.connection).toBe('close')
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(SLOW_JWKS_MS - 200) // it really was in flight

    const exit = await exited
    expect({ code: exit.code, signal: exit.signal }, output()).toEqual({ code: 0, signal: null })
    expect(exit.at - signalledAt).toBeLessThan(EXIT_BOUND_MS)
  }, 45_000)
})
