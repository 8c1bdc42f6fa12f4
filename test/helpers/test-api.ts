/**
 * The one helper that builds the whole app: `buildTestApp` from an environment, and on top of
 * it `startTestApi`, against a local issuer on loopback with keys made at test time, minting
 * tokens from a table of claims.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApp, type AppOptions } from '../../app.js'
import { loadConfig } from '../../src/config.js'
import { makeKey, type TestAlg, type TestKey } from './keys.js'
import { signJwt } from './jwt-sign.js'
import { startTestIssuer, type TestIssuer } from './test-issuer.js'

export const AUDIENCE = 'https://api.example.test'
export const CLIENT_ID = 'test-client'

export interface BuildTestAppOptions {
  /** JSON log lines at LOG_LEVEL go here; without it the app logs nothing. */
  logStream?: AppOptions['logStream']
  /** The app's clock (ms); default the real one. */
  now?: AppOptions['now']
  /** Wait for the keys before returning (default true). */
  waitForKeys?: boolean
  /** Runs once the gate is registered, before the app's routes (test hooks and routes). */
  instrument?: AppOptions['instrument']
  beforeGate?: AppOptions['beforeGate']
}

/**
 * The whole app configured from `env` alone (LOG_LEVEL silent unless given), ready, with its
 * keys fetched unless `waitForKeys` is false. The caller closes it.
 */
export async function buildTestApp(env: Record<string, string>, options: BuildTestAppOptions = {}): Promise<FastifyInstance> {
  // each app its own embedded database (a temporary DATA_DIR, removed on close) unless the test names one
  const dataDir = env.DATABASE_URL === undefined && env.DATA_DIR === undefined ? mkdtempSync(join(tmpdir(), 'test-app-data-')) : undefined
  const config = loadConfig({ LOG_LEVEL: 'silent', ...(dataDir === undefined ? {} : { DATA_DIR: dataDir }), ...env })
  const app = await buildApp({
    config,
    ...(options.logStream === undefined ? { logger: false } : { logStream: options.logStream }),
    now: options.now,
    fetchKeysOnReady: false,
    instrument: (app) => {
      if (dataDir !== undefined)
        app.addHook('onClose', async () => {
          rmSync(dataDir, { recursive: true, force: true })
        })
      options.instrument?.(app)
    },
    beforeGate: options.beforeGate
  })
  try {
    await app.ready()
    if (options.waitForKeys !== false) await Promise.all(app.issuers.map(({ keyStore }) => keyStore.start()))
  } catch (error) {
    await app.close().catch(() => {})
    throw error
  }
  return app
}

/** GET /api/me with the token as a Bearer credential. */
export function me(api: { app: FastifyInstance }, token: string): Promise<LightMyRequestResponse> {
  return api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
}

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
  /** Closes the app, and the issuer unless the test brought its own. */
  close(): Promise<void>
}

export interface TestApiOptions extends Omit<BuildTestAppOptions, 'now'> {
  /** On top of AUTH_ISSUER (the issuer), AUTH_AUDIENCE (AUDIENCE) and LOG_LEVEL silent. */
  env?: Record<string, string>
  algs?: TestAlg[]
  discovery?: 'openid' | 'oauth' | 'both' | 'none'
  issuerPath?: string
  /** An issuer the test started (and closes) itself, e.g. one shared by several apps. */
  issuer?: TestIssuer
  /** The keys that sign `token()`: default one per alg, served by the issuer started here. */
  keys?: TestKey[]
  /** Use a controllable clock (default false: the real one). */
  fakeClock?: boolean
}

export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const keys = options.keys ?? (options.issuer === undefined ? (options.algs ?? ['RS256']).map((alg) => makeKey(alg)) : [])
  const ownIssuer = options.issuer === undefined
  const issuer =
    options.issuer ??
    (await startTestIssuer({
      keys,
      discovery: options.discovery ?? 'openid',
      ...(options.issuerPath === undefined ? {} : { issuerPath: options.issuerPath })
    }))
  let offset = 0
  const clock = (): number => Date.now() + offset
  let app: FastifyInstance
  try {
    app = await buildTestApp(
      {
        AUTH_ISSUER: issuer.url,
        AUTH_AUDIENCE: AUDIENCE,
        ...(options.discovery === 'none' ? { AUTH_JWKS_URI: issuer.jwksUri } : {}),
        ...options.env
      },
      { ...options, now: options.fakeClock === true ? clock : undefined }
    )
  } catch (error) {
    if (ownIssuer) await issuer.close()
    throw error
  }
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
    advance: (ms) => {
      offset += ms
    },
    claims,
    token: (overrides, header, signingKey) => {
      const signer = signingKey ?? key
      if (signer === undefined) throw new Error("startTestApi: no key to sign with (pass `keys` with a test's own issuer)")
      return signJwt(signer, claims(overrides), header)
    },
    async close() {
      await app.close()
      if (ownIssuer) await issuer.close()
    }
  }
}
