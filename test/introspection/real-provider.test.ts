// Issue 9, item 5: a real OpenID provider (oidc-provider, the development issuer) issuing opaque
// access tokens for this API (resource indicator with the opaque format), with its
// introspection endpoint and a registered client for the API. The API accepts the token;
// after revocation at the provider it is still accepted within the cache TTL and refused
// once the TTL has passed.
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DevApi, DevIssuerApi } from '../helpers/dev-issuer-api.js'
import { startDevIssuerApi } from '../helpers/dev-issuer-api.js'
import { introspectToken, revokeToken } from '../helpers/oidc-flow.js'

function call(api: DevApi, token: string, url = '/api/me', method: 'GET' | 'POST' = 'GET'): Promise<LightMyRequestResponse> {
  return api.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}` },
    ...(method === 'POST' ? { payload: { text: 'hello' } } : {})
  })
}

describe("opaque access tokens from oidc-provider, introspected with the API's registered client", () => {
  let dev: DevIssuerApi
  let issuer: DevIssuerApi['issuer']

  beforeAll(async () => {
    dev = await startDevIssuerApi({
      issuer: {
        accessTokenFormat: 'opaque',
        // VSCHARs that must be form-urlencoded in HTTP Basic (RFC 6749 §2.3.1 and appendix A)
        introspectionClient: { clientId: 'resource-api:introspection', clientSecret: 'secret with spaces+plus:colon/%&=~!*()\'"' }
      }
    })
    issuer = dev.issuer
  })
  afterAll(async () => {
    await dev?.close()
  })

  /** An app of its own on the provider, with a clock the test moves (the provider keeps real time). */
  const api = (env: Record<string, string>): Promise<DevApi> => dev.startApi({ env, fakeClock: true })
  const token = (scope = 'read:messages'): Promise<string> => dev.clientToken(scope)

  it('accepts the token, refuses it once revoked and the cache TTL has passed (AUTH_TOKEN_FORMATS=opaque)', async () => {
    const a = await api({ AUTH_TOKEN_FORMATS: 'opaque', AUTH_INTROSPECTION_CACHE_TTL: '2' })
    const accessToken = await token()
    expect(accessToken).not.toContain('.') // opaque indeed

    const before = Math.floor(Date.now() / 1000)
    const res = await call(a, accessToken)
    expect(res.statusCode).toBe(200)
    const body = res.json<{ sub: string; clientId: string; scopes: string[]; issuer: string; expiresAt: string }>()
    expect(body).toMatchObject({ sub: 'dev-cli', clientId: 'dev-cli', scopes: ['read:messages'], issuer: issuer.issuer })
    const expiresAt = Date.parse(body.expiresAt) / 1000
    expect(expiresAt).toBeGreaterThan(before + 500) // the provider's 600 s lifetime
    expect(expiresAt).toBeLessThanOrEqual(before + 601)

    // scopes from the answer drive the routes
    expect((await call(a, accessToken, '/api/messages')).statusCode).toBe(200)
    const write = await call(a, accessToken, '/api/messages', 'POST')
    expect(write.statusCode).toBe(403)
    expect(write.headers['www-authenticate']).toContain('error="insufficient_scope"')

    await revokeToken({
      revocationEndpoint: issuer.revocationEndpoint,
      clientId: issuer.cliClient.clientId,
      clientSecret: issuer.cliClient.clientSecret,
      token: accessToken
    })
    // the provider now calls it inactive...
    const answer = await introspectToken({
      introspectionEndpoint: issuer.introspectionEndpoint,
      clientId: issuer.introspectionClient.clientId,
      clientSecret: issuer.introspectionClient.clientSecret,
      token: accessToken
    })
    expect(answer).toEqual({ active: false })
    // ...but within the TTL the API still uses its cached answer
    a.advance(1_500)
    expect((await call(a, accessToken)).statusCode).toBe(200)
    // once the TTL has passed it asks again and refuses the token
    a.advance(1_000)
    const refused = await call(a, accessToken)
    expect(refused.statusCode).toBe(401)
    expect(refused.headers['www-authenticate']).toContain('error="invalid_token"')
    expect(refused.body).not.toContain(accessToken)
  })

  it('does the same on the real clock with a 2 s TTL (AUTH_TOKEN_FORMATS=jwt,opaque)', async () => {
    const a = await api({ AUTH_TOKEN_FORMATS: 'jwt,opaque', AUTH_INTROSPECTION_CACHE_TTL: '2' })
    const accessToken = await token('read:messages write:messages')
    const introspectedAt = performance.now()
    const first = await call(a, accessToken, '/api/messages', 'POST')
    expect(first.statusCode).toBe(201)
    await revokeToken({
      revocationEndpoint: issuer.revocationEndpoint,
      clientId: issuer.cliClient.clientId,
      clientSecret: issuer.cliClient.clientSecret,
      token: accessToken
    })
    expect((await call(a, accessToken)).statusCode).toBe(200) // cached
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, introspectedAt + 2_100 - performance.now())))
    expect((await call(a, accessToken)).statusCode).toBe(401)
  })

  it('refuses a token the provider never issued, and an opaque token when only JWTs are accepted', async () => {
    const a = await api({ AUTH_TOKEN_FORMATS: 'opaque' })
    const unknown = await call(a, 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCd')
    expect(unknown.statusCode).toBe(401)
    expect(unknown.headers['www-authenticate']).toContain('error="invalid_token"')

    const jwtOnly = await api({ AUTH_TOKEN_FORMATS: 'jwt' })
    const refused = await call(jwtOnly, await token())
    expect(refused.statusCode).toBe(401)
    expect(refused.headers['www-authenticate']).toMatch(/error_description="[^"]*not a JWT/i)
  })

  it("answers 503 (not 401) when the provider refuses the API's introspection credentials", async () => {
    const a = await api({ AUTH_TOKEN_FORMATS: 'opaque', AUTH_INTROSPECTION_CLIENT_SECRET: 'wrong-secret' })
    const res = await call(a, await token())
    expect(res.statusCode).toBe(503)
    expect(res.headers['retry-after']).toMatch(/^\d+$/)
  })
})
