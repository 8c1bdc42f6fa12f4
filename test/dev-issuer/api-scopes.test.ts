/**
 * The development issuer knows the API's scopes (issue 14, item 3): both dev entry points
 * (`npm run dev`'s startDevStack and DEV_ISSUER=1's startApiDevIssuer) give it the scopes the
 * routes declare, from the registry that feeds the RFC 9728 metadata. A scope a route adds is
 * issued, and the API then answers; a scope nobody declares is invalid_scope. Real oidc-provider,
 * real API, loopback HTTP.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'

import { curlCommands, startDevStack } from '../../dev/dev.js'
import type { DevStack } from '../../dev/dev.js'
import { startApiDevIssuer } from '../../dev/api-issuer.js'
import { escapeHtml } from '../../dev/issuer/html.js'
import { DOCS_OAUTH_REDIRECT_PATH } from '../../plugins/docs.js'
import { EXAMPLE_ENV } from '../../scripts/openapi.js'
import { loadConfig } from '../../src/config.js'
import type { ScopeDeclaration } from '../../plugins/auth.js'
import { OAuthHttpError, clientCredentialsToken } from '../helpers/oidc-flow.js'
import { buildTestApp } from '../helpers/test-api.js'

const run = promisify(execFile)

/**
 * A route added the way a forker adds one, with a scope of its own. Its path and scope are the
 * test's alone, so that no resource the API has or gets (a forker's /api/notes) collides with it.
 */
const TEST_PATH = '/api/test-only/dev-scope'
const TEST_SCOPE = 'test:dev-scope'
/** A scope that no route declares, and none ever will. */
const UNDECLARED = 'test:never-declared-by-any-route'

function testRoute(app: FastifyInstance): void {
  app.describeScopes({ [TEST_SCOPE]: "A scope of the test's own route" })
  app.get(TEST_PATH, { config: { scopes: [TEST_SCOPE] } }, async () => ({ reached: true }))
}

/** The scopes the API's own routes declare (`app.scopes()`), whatever they are: the expectations come from here. */
async function apiScopes(): Promise<ScopeDeclaration[]> {
  const app = await buildTestApp({ ...EXAMPLE_ENV }, { waitForKeys: false })
  try {
    return [...app.scopes()]
  } finally {
    await app.close()
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

const sorted = (names: Iterable<string>): string[] => [...names].sort()

function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
}

describe('npm run dev (startDevStack): the issuer issues the scopes the routes declare', () => {
  let stack: DevStack
  let own: string[]
  beforeAll(async () => {
    own = (await apiScopes()).map((scope) => scope.name)
    stack = await startDevStack({
      apiPort: 0,
      issuerPort: 0,
      spaPort: 0,
      logger: false,
      buildSpa: 'never',
      env: { LOG_LEVEL: 'silent' },
      instrument: testRoute
    })
  })
  afterAll(async () => {
    await stack?.close()
  })

  const token = (scope: string) =>
    clientCredentialsToken({
      tokenEndpoint: stack.tokenEndpoint,
      clientId: stack.cliClient.clientId,
      clientSecret: stack.cliClient.clientSecret,
      resource: stack.audience,
      scope
    })

  it("knows the new route's scope beside the API's own, as the RFC 9728 metadata does", async () => {
    expect(own).not.toContain(TEST_SCOPE)
    expect(sorted(stack.scopes)).toEqual(sorted([...own, TEST_SCOPE]))
    const metadata = (await (await fetch(`${stack.apiUrl}/.well-known/oauth-protected-resource`)).json()) as { scopes_supported: string[] }
    expect([...metadata.scopes_supported].sort()).toEqual([...stack.scopes].sort())
  })

  it('issues the new scope in a client_credentials token, and the API answers 200 on its route', async () => {
    const { access_token: accessToken, scope } = await token(TEST_SCOPE)
    expect(scope).toBe(TEST_SCOPE)
    expect(decodePayload(accessToken)).toMatchObject({ iss: stack.issuerUrl, aud: stack.audience, scope: TEST_SCOPE })
    const reached = await fetch(`${stack.apiUrl}${TEST_PATH}`, { headers: { authorization: `Bearer ${accessToken}` } })
    expect(reached.status).toBe(200)
    expect(await reached.json()).toEqual({ reached: true })

    // a token with the API's other scopes, all of them, still lacks this one
    expect(own.length).toBeGreaterThan(0)
    const { access_token: withoutIt } = await token(own.join(' '))
    expect((await fetch(`${stack.apiUrl}${TEST_PATH}`, { headers: { authorization: `Bearer ${withoutIt}` } })).status).toBe(403)
  })

  it('answers invalid_scope for a scope no route declares, at the token and the authorization endpoint', async () => {
    const refused = await token(`${TEST_SCOPE} ${UNDECLARED}`).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(OAuthHttpError)
    expect((refused as OAuthHttpError).status).toBe(400)
    expect((refused as OAuthHttpError).body).toMatchObject({
      error: 'invalid_scope',
      error_description: expect.stringContaining(UNDECLARED)
    })

    const redirectUri = `${stack.spaUrl}/callback`
    const discovery = (await (await fetch(`${stack.issuerUrl}/.well-known/openid-configuration`)).json()) as {
      authorization_endpoint: string
    }
    const authorize = new URL(discovery.authorization_endpoint)
    authorize.search = new URLSearchParams({
      client_id: stack.spaClientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: `openid ${TEST_SCOPE} ${UNDECLARED}`,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      state: 's1'
    }).toString()
    const response = await fetch(authorize, { redirect: 'manual' })
    expect(response.status).toBe(303)
    const location = new URL(response.headers.get('location') ?? '')
    expect(location.origin + location.pathname).toBe(redirectUri)
    expect(Object.fromEntries(location.searchParams)).toMatchObject({ error: 'invalid_scope', state: 's1' })
  })

  it("asks for every scope of the API in the SPA's configuration and in the printed curl, which works as pasted", async () => {
    const spaConfig = (await (await fetch(`${stack.spaUrl}/config.json`)).json()) as { scope: string }
    expect(spaConfig.scope.split(' ')).toEqual(['openid', 'profile', 'email', ...stack.scopes])

    const { stdout } = await run('bash', ['-c', curlCommands(stack).join('\n')], { timeout: 10_000 })
    expect(JSON.parse(stdout)).toMatchObject({ clientId: 'dev-cli', issuer: stack.issuerUrl })
    expect([...(JSON.parse(stdout) as { scopes: string[] }).scopes].sort()).toEqual([...stack.scopes].sort())
  })
})

describe('DEV_ISSUER=1 (startApiDevIssuer): the issuer issues the scopes the routes declare', () => {
  let devIssuer: { issuer: string; close(): Promise<void> }
  let endpoints: { token_endpoint: string; authorization_endpoint: string }
  let printed: string[]
  let own: ScopeDeclaration[]

  beforeAll(async () => {
    own = await apiScopes()
    vi.stubEnv('DEV_ISSUER_PORT', '0')
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined)
    try {
      devIssuer = await startApiDevIssuer(loadConfig({ DEV_ISSUER: '1', AUTH_AUDIENCE: 'http://127.0.0.1:3000', LOG_LEVEL: 'silent' }))
      printed = log.mock.calls.map((args) => args.join(' '))
    } finally {
      log.mockRestore()
    }
    endpoints = (await (await fetch(`${devIssuer.issuer}/.well-known/openid-configuration`)).json()) as typeof endpoints
  })
  afterAll(async () => {
    vi.unstubAllEnvs()
    await devIssuer?.close()
  })

  const token = (scope: string) =>
    clientCredentialsToken({ tokenEndpoint: endpoints.token_endpoint, clientId: 'dev-cli', clientSecret: 'dev-cli-secret', scope })

  it('says which scopes it issues', () => {
    expect(own.length).toBeGreaterThan(0)
    const list = own.map((scope) => scope.name).join(' ')
    expect(printed).toEqual([
      expect.stringMatching(
        new RegExp(`^development issuer: ${escapeRegExp(devIssuer.issuer)} \\(.*; API scopes ${escapeRegExp(list)}\\)$`)
      )
    ])
  })

  it("issues the routes' scopes and refuses one they do not declare with invalid_scope", async () => {
    const names = own.map((scope) => scope.name)
    expect(sorted((await token(names.join(' '))).scope?.split(' ') ?? [])).toEqual(sorted(names))
    const refused = await token(UNDECLARED).catch((error: unknown) => error)
    expect((refused as OAuthHttpError).status).toBe(400)
    expect((refused as OAuthHttpError).error).toBe('invalid_scope')
  })

  it("shows the routes' descriptions of the scopes on its sign-in page", async () => {
    const described = own.find((scope) => scope.description !== undefined)
    if (described === undefined) throw new Error('no route of the API describes its scope (app.describeScopes)')
    const authorize = new URL(endpoints.authorization_endpoint)
    authorize.search = new URLSearchParams({
      client_id: 'demo-spa',
      redirect_uri: `http://127.0.0.1:3000${DOCS_OAUTH_REDIRECT_PATH}`,
      response_type: 'code',
      scope: `openid ${described.name}`,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256'
    }).toString()
    const redirect = await fetch(authorize, { redirect: 'manual' })
    expect(redirect.status).toBe(303)
    const page = await fetch(new URL(redirect.headers.get('location') ?? '', devIssuer.issuer), {
      headers: {
        cookie: redirect.headers
          .getSetCookie()
          .map((line) => line.split(';')[0])
          .join('; ')
      }
    })
    // the route's plugin says what the scope means (describeScopes), and the page shows it
    expect(await page.text()).toContain(`<li><code>${escapeHtml(described.name)}</code> ${escapeHtml(described.description ?? '')}</li>`)
  })
})
