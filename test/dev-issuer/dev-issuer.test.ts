import { createPublicKey, verify } from 'node:crypto'
import type { JsonWebKey } from 'node:crypto'

import { afterEach, describe, expect, it } from 'vitest'

import { startDevIssuer } from '../../dev/issuer/index.js'
import type { DevIssuer, DevIssuerOptions } from '../../dev/issuer/index.js'
import {
  OAuthHttpError,
  authorizationCodeLogin,
  clientCredentialsToken,
  introspectToken,
  refreshTokens,
  revokeToken
} from '../helpers/oidc-flow.js'

const AUDIENCE = 'https://api.dev-issuer.test'
const REDIRECT_URI = 'http://127.0.0.1:5173/callback'
const SPA_ORIGIN = 'http://127.0.0.1:5173'

interface DecodedJwt {
  header: Record<string, unknown>
  payload: Record<string, unknown>
}

function decodeJwt(token: string): DecodedJwt {
  const [header, payload] = token.split('.')
  const parse = (part: string | undefined): Record<string, unknown> =>
    JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
  return { header: parse(header), payload: parse(payload) }
}

/** Verifies an RS256 or ES256 compact JWS against the issuer's published JWKS. */
async function verifiedWithJwks(issuer: DevIssuer, token: string): Promise<boolean> {
  const { keys } = (await (await fetch(issuer.jwksUri)).json()) as { keys: (JsonWebKey & { kid: string })[] }
  const { header } = decodeJwt(token)
  const jwk = keys.find((key) => key.kid === header['kid'])
  if (jwk === undefined) return false
  const [h, p, s] = token.split('.')
  const input = Buffer.from(`${h}.${p}`)
  const signature = Buffer.from(s ?? '', 'base64url')
  const key = createPublicKey({ key: jwk, format: 'jwk' })
  if (header['alg'] === 'RS256') return verify('sha256', input, key, signature)
  if (header['alg'] === 'ES256') return verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature)
  return false
}

describe('development issuer', () => {
  const started: DevIssuer[] = []

  async function start(options: Partial<DevIssuerOptions> = {}): Promise<DevIssuer> {
    const issuer = await startDevIssuer({
      audience: AUDIENCE,
      spa: { redirectUris: [REDIRECT_URI], origins: [SPA_ORIGIN] },
      ...options
    })
    started.push(issuer)
    return issuer
  }

  afterEach(async () => {
    await Promise.all(started.splice(0).map((issuer) => issuer.close()))
  })

  it('publishes discovery metadata whose issuer and endpoints match', async () => {
    const issuer = await start()
    expect(issuer.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const response = await fetch(`${issuer.issuer}/.well-known/openid-configuration`)
    expect(response.status).toBe(200)
    const metadata = (await response.json()) as Record<string, unknown>
    expect(metadata['issuer']).toBe(issuer.issuer)
    expect(metadata['jwks_uri']).toBe(issuer.jwksUri)
    expect(metadata['token_endpoint']).toBe(issuer.tokenEndpoint)
    expect(metadata['introspection_endpoint']).toBe(issuer.introspectionEndpoint)
    expect(metadata['revocation_endpoint']).toBe(issuer.revocationEndpoint)
    expect(metadata['authorization_endpoint']).toBe(issuer.authorizationEndpoint)
    expect(metadata['code_challenge_methods_supported']).toEqual(['S256'])

    const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: Record<string, unknown>[] }
    expect(jwks.keys.map((key) => key['alg']).sort()).toEqual(['ES256', 'RS256'])
    for (const key of jwks.keys) expect(key).not.toHaveProperty('d')
    expect(issuer.users.map((user) => user.username)).toEqual(['alice', 'bob'])
  })

  it('issues an RFC 9068 JWT access token for client_credentials', async () => {
    const issuer = await start()
    const tokens = await clientCredentialsToken({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: issuer.cliClient.clientId,
      clientSecret: issuer.cliClient.clientSecret,
      scope: 'read:messages write:messages'
    })
    expect(tokens.token_type).toBe('Bearer')
    expect(tokens.expires_in).toBe(600)
    expect(tokens.scope).toBe('read:messages write:messages')

    const { header, payload } = decodeJwt(tokens.access_token)
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'RS256' })
    expect(typeof header['kid']).toBe('string')
    expect(payload).toMatchObject({
      iss: issuer.issuer,
      aud: AUDIENCE,
      sub: 'dev-cli',
      client_id: 'dev-cli',
      scope: 'read:messages write:messages'
    })
    expect(typeof payload['jti']).toBe('string')
    expect(typeof payload['iat']).toBe('number')
    expect(payload['exp']).toBe((payload['iat'] as number) + 600)
    expect(await verifiedWithJwks(issuer, tokens.access_token)).toBe(true)
  })

  it('accepts the API resource explicitly; client_secret_post works too', async () => {
    const issuer = await start({ accessTokenTtl: 120 })
    const tokens = await clientCredentialsToken({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: issuer.cliClient.clientId,
      clientSecret: issuer.cliClient.clientSecret,
      resource: AUDIENCE,
      scope: 'read:messages'
    })
    expect(tokens.expires_in).toBe(120)
    expect(decodeJwt(tokens.access_token).payload).toMatchObject({ aud: AUDIENCE, scope: 'read:messages' })

    const response = await fetch(issuer.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: issuer.cliClient.clientId,
        client_secret: issuer.cliClient.clientSecret,
        scope: 'write:messages'
      })
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { access_token: string }
    expect(decodeJwt(body.access_token).payload).toMatchObject({ aud: AUDIENCE, scope: 'write:messages' })
  })

  it('issues the API scopes it is given, and no other', async () => {
    const issuer = await start({
      scopes: [{ name: 'read:notes', description: 'Read notes' }, { name: 'https://api.example.test/notes.write' }]
    })
    expect(issuer.scopes).toEqual([
      { name: 'read:notes', description: 'Read notes' },
      { name: 'https://api.example.test/notes.write', description: undefined }
    ])
    const tokens = await clientCredentialsToken({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: issuer.cliClient.clientId,
      clientSecret: issuer.cliClient.clientSecret,
      scope: 'read:notes https://api.example.test/notes.write'
    })
    expect(decodeJwt(tokens.access_token).payload).toMatchObject({
      aud: AUDIENCE,
      scope: 'read:notes https://api.example.test/notes.write'
    })

    const notGiven = await clientCredentialsToken({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: issuer.cliClient.clientId,
      clientSecret: issuer.cliClient.clientSecret,
      scope: 'read:notes read:messages'
    }).catch((error: unknown) => error)
    expect((notGiven as OAuthHttpError).status).toBe(400)
    expect((notGiven as OAuthHttpError).body).toMatchObject({
      error: 'invalid_scope',
      error_description: expect.stringContaining('read:messages')
    })
  })

  it("answers invalid_scope for a scope that is neither OpenID nor the API's, at the token endpoint", async () => {
    const issuer = await start()
    const request = (scope: string, resource?: string) =>
      clientCredentialsToken({
        tokenEndpoint: issuer.tokenEndpoint,
        clientId: issuer.cliClient.clientId,
        clientSecret: issuer.cliClient.clientSecret,
        scope,
        ...(resource === undefined ? {} : { resource })
      }).catch((error: unknown) => error)
    for (const refused of [await request('read:messages unknown:scope'), await request('unknown:scope', AUDIENCE)]) {
      expect(refused).toBeInstanceOf(OAuthHttpError)
      expect((refused as OAuthHttpError).status).toBe(400)
      expect((refused as OAuthHttpError).body).toMatchObject({
        error: 'invalid_scope',
        error_description: expect.stringContaining('unknown:scope')
      })
    }

    // refresh: a scope the refresh token does not hold, unknown ones included, is invalid_scope too
    const tokens = await authorizationCodeLogin({
      issuer: issuer.issuer,
      clientId: issuer.spaClientId,
      redirectUri: REDIRECT_URI,
      username: 'bob',
      password: 'bob'
    })
    const refreshed = await refreshTokens({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: issuer.spaClientId,
      refreshToken: tokens.refresh_token ?? '',
      scope: 'read:messages unknown:scope'
    }).catch((error: unknown) => error)
    expect((refreshed as OAuthHttpError).status).toBe(400)
    expect((refreshed as OAuthHttpError).error).toBe('invalid_scope')
  })

  it('redirects invalid_scope to the client for an unknown scope at the authorization endpoint, and refuses it at PAR', async () => {
    const issuer = await start()
    const request = {
      client_id: issuer.spaClientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid read:messages unknown:scope',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      state: 'the-state'
    }
    const authorize = new URL(issuer.authorizationEndpoint)
    authorize.search = new URLSearchParams(request).toString()
    const response = await fetch(authorize, { redirect: 'manual' })
    expect(response.status).toBe(303)
    const location = new URL(response.headers.get('location') ?? '', issuer.issuer)
    expect(location.origin + location.pathname).toBe(REDIRECT_URI)
    expect(location.searchParams.get('error')).toBe('invalid_scope')
    expect(location.searchParams.get('error_description')).toContain('unknown:scope')
    expect(location.searchParams.get('state')).toBe('the-state')

    const metadata = (await (await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>
    const pushed = await fetch(metadata['pushed_authorization_request_endpoint'] ?? '', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(request)
    })
    expect(pushed.status).toBe(400)
    expect(await pushed.json()).toMatchObject({ error: 'invalid_scope' })
  })

  it('refuses to start with a scope list it could not issue', async () => {
    for (const [scopes, message] of [
      [[{ name: 'read messages' }], /not a valid OAuth scope/],
      [[{ name: '' }], /not a valid OAuth scope/],
      [[{ name: 'openid' }], /is an OpenID Connect scope/],
      [[{ name: 'read:notes' }, { name: 'read:notes' }], /listed twice/]
    ] as const) {
      await expect(startDevIssuer({ audience: AUDIENCE, scopes })).rejects.toThrow(message)
    }
  })

  it('refuses a token for another resource and a wrong client secret', async () => {
    const issuer = await start()
    const refused = await clientCredentialsToken({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: issuer.cliClient.clientId,
      clientSecret: issuer.cliClient.clientSecret,
      resource: 'https://other-api.example.test',
      scope: 'read:messages'
    }).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(OAuthHttpError)
    expect((refused as OAuthHttpError).status).toBe(400)
    expect((refused as OAuthHttpError).error).toBe('invalid_target')

    const wrongSecret = await clientCredentialsToken({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: issuer.cliClient.clientId,
      clientSecret: 'not-the-secret'
    }).catch((error: unknown) => error)
    expect((wrongSecret as OAuthHttpError).status).toBe(401)
    expect((wrongSecret as OAuthHttpError).error).toBe('invalid_client')
  })

  it('issues opaque tokens that introspect active for the API and inactive after revocation', async () => {
    const issuer = await start({ accessTokenFormat: 'opaque' })
    const tokens = await clientCredentialsToken({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: issuer.cliClient.clientId,
      clientSecret: issuer.cliClient.clientSecret,
      scope: 'read:messages'
    })
    expect(tokens.access_token.split('.')).toHaveLength(1)

    const introspect = (token: string) =>
      introspectToken({
        introspectionEndpoint: issuer.introspectionEndpoint,
        clientId: issuer.introspectionClient.clientId,
        clientSecret: issuer.introspectionClient.clientSecret,
        token
      })

    const active = await introspect(tokens.access_token)
    expect(active).toMatchObject({
      active: true,
      aud: AUDIENCE,
      scope: 'read:messages',
      client_id: 'dev-cli',
      sub: 'dev-cli',
      iss: issuer.issuer,
      token_type: 'Bearer'
    })
    expect(active['exp']).toBeGreaterThan(Date.now() / 1000)

    // a client that is neither the API nor the token's owner learns nothing
    const stranger = await introspectToken({
      introspectionEndpoint: issuer.introspectionEndpoint,
      clientId: issuer.cliClient.clientId,
      clientSecret: issuer.cliClient.clientSecret,
      token: 'not-a-token'
    })
    expect(stranger).toEqual({ active: false })

    await revokeToken({
      revocationEndpoint: issuer.revocationEndpoint,
      clientId: issuer.cliClient.clientId,
      clientSecret: issuer.cliClient.clientSecret,
      token: tokens.access_token
    })
    expect(await introspect(tokens.access_token)).toEqual({ active: false })
  })

  it('runs the authorization code flow with PKCE for alice: ID token for the SPA, JWT access token for the API', async () => {
    const issuer = await start()
    const alice = issuer.users.find((user) => user.username === 'alice')
    expect(alice).toBeDefined()

    const tokens = await authorizationCodeLogin({
      issuer: issuer.issuer,
      clientId: issuer.spaClientId,
      redirectUri: REDIRECT_URI,
      username: 'alice',
      password: 'alice',
      scope: 'openid profile email read:messages'
    })

    const idToken = decodeJwt(tokens.id_token)
    expect(idToken.payload).toMatchObject({
      iss: issuer.issuer,
      aud: 'demo-spa',
      sub: alice?.sub,
      name: 'Alice Liddell',
      email: 'alice@example.com',
      email_verified: true
    })
    expect(typeof idToken.payload['nonce']).toBe('string')
    // oidc-provider puts at_hash only into ID tokens from the authorization endpoint, not the token endpoint
    expect(idToken.header['typ']).toBeUndefined()
    expect(await verifiedWithJwks(issuer, tokens.id_token)).toBe(true)

    const accessToken = decodeJwt(tokens.access_token)
    expect(accessToken.header).toMatchObject({ typ: 'at+jwt', alg: 'RS256' })
    expect(accessToken.payload).toMatchObject({
      iss: issuer.issuer,
      aud: AUDIENCE,
      sub: alice?.sub,
      client_id: 'demo-spa',
      scope: 'read:messages'
    })
    expect(accessToken.payload).not.toHaveProperty('nonce')
    expect(accessToken.payload).not.toHaveProperty('at_hash')
    expect(typeof accessToken.payload['jti']).toBe('string')
    expect(typeof accessToken.payload['exp']).toBe('number')
    expect(typeof accessToken.payload['iat']).toBe('number')
    expect(await verifiedWithJwks(issuer, tokens.access_token)).toBe(true)
    expect(tokens.scope?.split(' ').sort()).toEqual(['read:messages'])
  })

  it('returns a refresh token that rotates on use and keeps the API audience', async () => {
    const issuer = await start()
    const bob = issuer.users.find((user) => user.username === 'bob')
    const tokens = await authorizationCodeLogin({
      issuer: issuer.issuer,
      clientId: issuer.spaClientId,
      redirectUri: REDIRECT_URI,
      username: 'bob',
      password: 'bob'
    })
    expect(tokens.refresh_token).toBeTypeOf('string')
    expect(decodeJwt(tokens.access_token).payload).toMatchObject({
      sub: bob?.sub,
      aud: AUDIENCE,
      scope: 'read:messages write:messages'
    })

    const refreshed = await refreshTokens({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: issuer.spaClientId,
      refreshToken: tokens.refresh_token ?? ''
    })
    expect(refreshed.refresh_token).toBeTypeOf('string')
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token)
    expect(decodeJwt(refreshed.access_token).payload).toMatchObject({ sub: bob?.sub, aud: AUDIENCE, client_id: 'demo-spa' })

    // the old refresh token was consumed by the rotation
    const reused = await refreshTokens({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: issuer.spaClientId,
      refreshToken: tokens.refresh_token ?? ''
    }).catch((error: unknown) => error)
    expect((reused as OAuthHttpError).error).toBe('invalid_grant')
  })

  it('honours an explicit resource indicator from the SPA and refuses an unknown one', async () => {
    const issuer = await start()
    const login = (resource: string) =>
      authorizationCodeLogin({
        issuer: issuer.issuer,
        clientId: issuer.spaClientId,
        redirectUri: REDIRECT_URI,
        username: 'alice',
        password: 'alice',
        scope: 'openid write:messages',
        resource
      })
    const tokens = await login(AUDIENCE)
    expect(decodeJwt(tokens.access_token).payload).toMatchObject({ aud: AUDIENCE, scope: 'write:messages' })
    await expect(login('https://other-api.example.test')).rejects.toThrow(/invalid_target/)
  })

  it('answers CORS requests from the SPA origin only', async () => {
    const issuer = await start()
    const preflight = (origin: string) =>
      fetch(issuer.tokenEndpoint, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' }
      })
    const allowed = await fetch(issuer.tokenEndpoint, {
      method: 'POST',
      headers: { origin: SPA_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: issuer.spaClientId, refresh_token: 'nope' })
    })
    expect(allowed.headers.get('access-control-allow-origin')).toBe(SPA_ORIGIN)
    expect((await preflight(SPA_ORIGIN)).headers.get('access-control-allow-origin')).toBe(SPA_ORIGIN)

    const other = await fetch(issuer.tokenEndpoint, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: issuer.spaClientId, refresh_token: 'nope' })
    })
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('shows a labelled sign-in form and rejects a wrong password', async () => {
    const issuer = await start()
    const wrong = await authorizationCodeLogin({
      issuer: issuer.issuer,
      clientId: issuer.spaClientId,
      redirectUri: REDIRECT_URI,
      username: 'alice',
      password: 'bob'
    }).catch((error: unknown) => error)
    expect(wrong).toBeInstanceOf(Error)
    expect((wrong as Error).message).toMatch(/HTTP 401.*Sign in/s)

    const authorize = new URL(issuer.authorizationEndpoint)
    authorize.search = new URLSearchParams({
      client_id: issuer.spaClientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256'
    }).toString()
    const redirect = await fetch(authorize, { redirect: 'manual' })
    expect(redirect.status).toBe(303)
    const page = await fetch(new URL(redirect.headers.get('location') ?? '', issuer.issuer), {
      headers: {
        cookie: redirect.headers
          .getSetCookie()
          .map((line) => line.split(';')[0])
          .join('; ')
      }
    })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    const html = await page.text()
    expect(html).toMatch(/<label for="username">/)
    expect(html).toMatch(/<input id="username" name="username"/)
    expect(html).toMatch(/<label for="password">/)
    expect(html).toMatch(/<input id="password" name="password" type="password"/)
    expect(html).toMatch(/<button type="submit">Sign in<\/button>/)
    expect(html).toContain('alice')
  })

  it('says on the sign-in page which scopes the client asks for, and what they mean', async () => {
    const issuer = await start({ scopes: [{ name: 'read:notes', description: 'Read <your> notes' }, { name: 'write:notes' }] })
    const authorize = new URL(issuer.authorizationEndpoint)
    authorize.search = new URLSearchParams({
      client_id: issuer.spaClientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid read:notes write:notes',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256'
    }).toString()
    const redirect = await fetch(authorize, { redirect: 'manual' })
    const page = await fetch(new URL(redirect.headers.get('location') ?? '', issuer.issuer), {
      headers: {
        cookie: redirect.headers
          .getSetCookie()
          .map((line) => line.split(';')[0])
          .join('; ')
      }
    })
    const html = await page.text()
    expect(html).toContain(
      '<ul class="scopes"><li><code>openid</code> Sign you in</li><li><code>read:notes</code> Read &lt;your&gt; notes</li><li><code>write:notes</code></li></ul>'
    )
  })

  it('refuses PKCE-less authorization requests from the SPA', async () => {
    const issuer = await start()
    const authorize = new URL(issuer.authorizationEndpoint)
    authorize.search = new URLSearchParams({
      client_id: issuer.spaClientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid'
    }).toString()
    const response = await fetch(authorize, { redirect: 'manual' })
    const location = new URL(response.headers.get('location') ?? '', issuer.issuer)
    expect(location.origin + location.pathname).toBe(REDIRECT_URI)
    expect(location.searchParams.get('error')).toBe('invalid_request')
  })

  it('refuses to start under NODE_ENV=production', async () => {
    const previous = process.env.NODE_ENV
    process.env.NODE_ENV = 'production'
    try {
      await expect(startDevIssuer({ audience: AUDIENCE })).rejects.toThrow(/NODE_ENV=production/)
    } finally {
      if (previous === undefined) delete process.env.NODE_ENV
      else process.env.NODE_ENV = previous
    }
  })
})
