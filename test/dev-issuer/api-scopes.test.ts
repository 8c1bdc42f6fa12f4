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
import { DOCS_OAUTH_REDIRECT_PATH } from '../../plugins/docs.js'
import { loadConfig } from '../../src/config.js'
import { OAuthHttpError, clientCredentialsToken } from '../helpers/oidc-flow.js'

const run = promisify(execFile)

/** A route of a forker's, with a scope of its own. */
function notesRoute (app: FastifyInstance): void {
  app.describeScopes({ 'read:notes': 'Read the caller\'s notes' })
  app.get('/api/notes', { config: { scopes: ['read:notes'] } }, async () => ({ notes: [] }))
}

function decodePayload (token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
}

describe('npm run dev (startDevStack): the issuer issues the scopes the routes declare', () => {
  let stack: DevStack
  beforeAll(async () => {
    stack = await startDevStack({ apiPort: 0, issuerPort: 0, spaPort: 0, logger: false, buildSpa: 'never', env: { LOG_LEVEL: 'silent' }, instrument: notesRoute })
  })
  afterAll(async () => { await stack?.close() })

  const token = (scope: string) => clientCredentialsToken({
    tokenEndpoint: stack.tokenEndpoint,
    clientId: stack.cliClient.clientId,
    clientSecret: stack.cliClient.clientSecret,
    resource: stack.audience,
    scope
  })

  it('knows the new route\'s scope beside the example\'s, as the RFC 9728 metadata does', async () => {
    expect([...stack.scopes].sort()).toEqual(['read:messages', 'read:notes', 'write:messages'])
    const metadata = await (await fetch(`${stack.apiUrl}/.well-known/oauth-protected-resource`)).json() as { scopes_supported: string[] }
    expect([...metadata.scopes_supported].sort()).toEqual([...stack.scopes].sort())
  })

  it('issues the new scope in a client_credentials token, and the API answers 200 on its route', async () => {
    const { access_token: accessToken, scope } = await token('read:notes')
    expect(scope).toBe('read:notes')
    expect(decodePayload(accessToken)).toMatchObject({ iss: stack.issuerUrl, aud: stack.audience, scope: 'read:notes' })
    const notes = await fetch(`${stack.apiUrl}/api/notes`, { headers: { authorization: `Bearer ${accessToken}` } })
    expect(notes.status).toBe(200)
    expect(await notes.json()).toEqual({ notes: [] })

    const { access_token: withoutIt } = await token('read:messages')
    expect((await fetch(`${stack.apiUrl}/api/notes`, { headers: { authorization: `Bearer ${withoutIt}` } })).status).toBe(403)
  })

  it('answers invalid_scope for a scope no route declares, at the token and the authorization endpoint', async () => {
    const refused = await token('read:notes delete:notes').catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(OAuthHttpError)
    expect((refused as OAuthHttpError).status).toBe(400)
    expect((refused as OAuthHttpError).body).toMatchObject({ error: 'invalid_scope', error_description: expect.stringContaining('delete:notes') })

    const redirectUri = `${stack.spaUrl}/callback`
    const discovery = await (await fetch(`${stack.issuerUrl}/.well-known/openid-configuration`)).json() as { authorization_endpoint: string }
    const authorize = new URL(discovery.authorization_endpoint)
    authorize.search = new URLSearchParams({
      client_id: stack.spaClientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid read:notes delete:notes',
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

  it('asks for every scope of the API in the SPA\'s configuration and in the printed curl, which works as pasted', async () => {
    const spaConfig = await (await fetch(`${stack.spaUrl}/config.json`)).json() as { scope: string }
    expect(spaConfig.scope.split(' ')).toEqual(['openid', 'profile', 'email', ...stack.scopes])

    const { stdout } = await run('bash', ['-c', curlCommands(stack).join('\n')], { timeout: 10_000 })
    expect(JSON.parse(stdout)).toMatchObject({ clientId: 'dev-cli', issuer: stack.issuerUrl })
    expect([...(JSON.parse(stdout) as { scopes: string[] }).scopes].sort()).toEqual([...stack.scopes].sort())
  })
})

describe('DEV_ISSUER=1 (startApiDevIssuer): the issuer issues the scopes the routes declare', () => {
  let devIssuer: { issuer: string, close(): Promise<void> }
  let endpoints: { token_endpoint: string, authorization_endpoint: string }
  let printed: string[]

  beforeAll(async () => {
    vi.stubEnv('DEV_ISSUER_PORT', '0')
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined)
    try {
      devIssuer = await startApiDevIssuer(loadConfig({ DEV_ISSUER: '1', AUTH_AUDIENCE: 'http://127.0.0.1:3000', LOG_LEVEL: 'silent' }))
      printed = log.mock.calls.map((args) => args.join(' '))
    } finally {
      log.mockRestore()
    }
    endpoints = await (await fetch(`${devIssuer.issuer}/.well-known/openid-configuration`)).json() as typeof endpoints
  })
  afterAll(async () => {
    vi.unstubAllEnvs()
    await devIssuer?.close()
  })

  const token = (scope: string) =>
    clientCredentialsToken({ tokenEndpoint: endpoints.token_endpoint, clientId: 'dev-cli', clientSecret: 'dev-cli-secret', scope })

  it('says which scopes it issues', () => {
    expect(printed).toEqual([expect.stringMatching(new RegExp(`^development issuer: ${devIssuer.issuer} \\(.*; API scopes read:messages write:messages\\)$`))])
  })

  it('issues the routes\' scopes and refuses one they do not declare with invalid_scope', async () => {
    expect((await token('read:messages write:messages')).scope).toBe('read:messages write:messages')
    const refused = await token('read:notes').catch((error: unknown) => error)
    expect((refused as OAuthHttpError).status).toBe(400)
    expect((refused as OAuthHttpError).error).toBe('invalid_scope')
  })

  it('shows the routes\' descriptions of the scopes on its sign-in page', async () => {
    const authorize = new URL(endpoints.authorization_endpoint)
    authorize.search = new URLSearchParams({
      client_id: 'demo-spa',
      redirect_uri: `http://127.0.0.1:3000${DOCS_OAUTH_REDIRECT_PATH}`,
      response_type: 'code',
      scope: 'openid read:messages',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256'
    }).toString()
    const redirect = await fetch(authorize, { redirect: 'manual' })
    expect(redirect.status).toBe(303)
    const page = await fetch(new URL(redirect.headers.get('location') ?? '', devIssuer.issuer), {
      headers: { cookie: redirect.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ') }
    })
    // routes/api/messages says what read:messages means
    expect(await page.text()).toContain('<li><code>read:messages</code> Read the caller&#39;s messages</li>')
  })
})
