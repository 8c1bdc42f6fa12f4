/**
 * The one helper that builds the whole app against a local issuer on loopback, with keys
 * made at test time, and mints tokens from a table of claims.
 */
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppOptions } from '../../app.js'
import { loadConfig } from '../../src/config.js'
import { makeKey, type TestAlg, type TestKey } from './keys.js'
import { signJwt } from './jwt-sign.js'
import { startTestIssuer, type TestIssuer } from './test-issuer.js'

export const AUDIENCE = 'https://api.example.test'
export const CLIENT_ID = 'test-client'

export interface TestApi {
  app: FastifyInstance
  issuer: TestIssuer
  key: TestKey
  keys: TestKey[]
  /** Seconds since the epoch, per the app's clock. */
  now(): number
  /** Moves the app's clock (ms). */
  advance(ms: number): void
  /** Claims of a valid access token, overridden by `claims` (a value of undefined removes a claim). */
  claims(claims?: Record<string, unknown>): Record<string, unknown>
  token(claims?: Record<string, unknown>, header?: Record<string, unknown>, key?: TestKey): string
  close(): Promise<void>
}

export interface TestApiOptions {
  env?: Record<string, string>
  algs?: TestAlg[]
  discovery?: 'openid' | 'oauth' | 'both' | 'none'
  issuerPath?: string
  /** Wait for the keys before returning (default true). */
  waitForKeys?: boolean
  /** Use a controllable clock (default false: the real one). */
  fakeClock?: boolean
  /** Runs once the gate is registered, before the app's routes (test hooks and routes). */
  instrument?: AppOptions['instrument']
  beforeGate?: AppOptions['beforeGate']
}

export async function startTestApi (options: TestApiOptions = {}): Promise<TestApi> {
  const keys = (options.algs ?? ['RS256']).map((alg) => makeKey(alg))
  const issuer = await startTestIssuer({ keys, discovery: options.discovery ?? 'openid', ...(options.issuerPath === undefined ? {} : { issuerPath: options.issuerPath }) })
  let offset = 0
  const clock = (): number => Date.now() + offset
  const config = loadConfig({
    AUTH_ISSUER: issuer.url,
    AUTH_AUDIENCE: AUDIENCE,
    LOG_LEVEL: 'silent',
    ...(options.discovery === 'none' ? { AUTH_JWKS_URI: issuer.jwksUri } : {}),
    ...options.env
  })
  const app = await buildApp({ config, logger: false, ...(options.fakeClock === true ? { now: clock } : {}), fetchKeysOnReady: false, ...(options.instrument === undefined ? {} : { instrument: options.instrument }), ...(options.beforeGate === undefined ? {} : { beforeGate: options.beforeGate }) })
  try {
    await app.ready()
  } catch (error) {
    await issuer.close()
    throw error
  }
  if (options.waitForKeys !== false) await app.keyStore.start()
  const key = keys[0] as TestKey

  const claims = (overrides: Record<string, unknown> = {}): Record<string, unknown> => {
    const now = Math.floor(clock() / 1000)
    const base: Record<string, unknown> = {
      iss: issuer.url,
      sub: 'user-1',
      aud: AUDIENCE,
      iat: now,
      exp: now + 300,
      jti: `jti-${Math.random().toString(36).slice(2)}`,
      client_id: CLIENT_ID,
      scope: 'read:messages write:messages'
    }
    for (const [name, value] of Object.entries(overrides)) {
      if (value === undefined) delete base[name]
      else base[name] = value
    }
    return base
  }

  return {
    app,
    issuer,
    key,
    keys,
    now: () => Math.floor(clock() / 1000),
    advance: (ms) => { offset += ms },
    claims,
    token: (overrides, header, signingKey) => signJwt(signingKey ?? key, claims(overrides), header),
    async close () {
      await app.close()
      await issuer.close()
    }
  }
}
