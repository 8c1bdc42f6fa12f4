/**
 * The development issuer and DPoP (RFC 9449): the SPA's public client, through the authorization
 * code flow with PKCE, gets DPoP-bound tokens when it exchanges the code with a proof (token_type
 * DPoP, a JWT access token for the API with cnf.jkt), and Bearer tokens when it sends none. A
 * bound refresh token only works with a proof by the same key, and keeps the binding. With
 * `dpopNonce` the token endpoint asks for its nonce first. The client side is oauth4webapi.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterEach, describe, expect, it } from 'vitest'

import { startDevIssuer } from '../../dev/issuer/index.js'
import type { DevIssuer, DevIssuerOptions } from '../../dev/issuer/index.js'

const AUDIENCE = 'https://api.dev-issuer.test'
const REDIRECT_URI = 'http://127.0.0.1:5173/callback'
const SPA_ORIGIN = 'http://127.0.0.1:5173'
const insecure = { [oauth.allowInsecureRequests]: true } as const

/** oauth4webapi's DPoP handle for the SPA's client, with a fresh ES256 key whose private key cannot be exported. */
async function dpopFor(issuer: DevIssuer): Promise<oauth.DPoPHandle> {
  const client: oauth.Client = { client_id: issuer.spaClientId }
  const keys: oauth.CryptoKeyPair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
  return oauth.DPoP(client, keys)
}

/**
 * The browser's part of the authorization code flow: follows the issuer's redirects with its
 * cookies, signs in on its form, and stops at the redirect URI. Resolves to the callback URL.
 */
async function authorize(authorizationUrl: URL, username: string, password: string): Promise<URL> {
  const cookies = new Map<string, string>()
  let url = authorizationUrl
  let init: { method: 'GET' | 'POST'; body?: URLSearchParams } = { method: 'GET' }
  let signedIn = false
  for (let hop = 0; hop < 20; hop += 1) {
    const headers: Record<string, string> = { accept: 'text/html' }
    if (cookies.size > 0) headers['cookie'] = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const response = await fetch(url, { ...init, headers, redirect: 'manual' })
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const [name = '', value = ''] = pair.split(/=(.*)/s)
      if (/expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(name.trim())
      else cookies.set(name.trim(), value.trim())
    }
    const location = response.headers.get('location')
    if (location !== null) {
      await response.body?.cancel()
      url = new URL(location, url)
      if (url.href.startsWith(REDIRECT_URI)) return url
      init = { method: 'GET' }
      continue
    }
    const html = await response.text()
    const action = /<form[^>]*\baction="([^"]*\/login)"/i.exec(html)?.[1]
    if (response.status !== 200 || action === undefined || signedIn) throw new Error(`stopped at ${url.pathname}: HTTP ${response.status}`)
    signedIn = true
    url = new URL(action, url)
    init = { method: 'POST', body: new URLSearchParams({ username, password }) }
  }
  throw new Error('the flow did not reach the redirect URI')
}

interface Login {
  as: oauth.AuthorizationServer
  client: oauth.Client
  /** The raw token response (token_type as the issuer spelled it). */
  raw: Record<string, unknown>
  result: oauth.TokenEndpointResponse
}

/** alice's login as the SPA would do it, exchanging the code with a proof when `dpop` is given. */
async function login(issuer: DevIssuer, dpop: oauth.DPoPHandle | undefined): Promise<Login> {
  const as = await oauth.processDiscoveryResponse(new URL(issuer.issuer), await oauth.discoveryRequest(new URL(issuer.issuer), insecure))
  const client: oauth.Client = { client_id: issuer.spaClientId }
  const verifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const url = new URL(as.authorization_endpoint ?? '')
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid profile read:messages write:messages',
    resource: AUDIENCE,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce
  }).toString()
  const callback = await authorize(url, 'alice', 'alice')
  const params = oauth.validateAuthResponse(as, client, callback, state)
  const exchange = async (): Promise<Login> => {
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT_URI, verifier, {
      ...insecure,
      additionalParameters: { resource: AUDIENCE },
      ...(dpop === undefined ? {} : { DPoP: dpop })
    })
    const raw = (await response.clone().json()) as Record<string, unknown>
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, requireIdToken: true })
    return { as, client, raw, result }
  }
  try {
    return await exchange()
  } catch (error) {
    // with nonces on, the first proof has none: the issuer answers use_dpop_nonce and oauth4webapi keeps the nonce
    if (dpop === undefined || !oauth.isDPoPNonceError(error)) throw error
    return exchange()
  }
}

async function refresh(
  { as, client }: Login,
  refreshToken: string,
  dpop: oauth.DPoPHandle | undefined
): Promise<{ raw: Record<string, unknown>; result: oauth.TokenEndpointResponse }> {
  const response = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, {
    ...insecure,
    additionalParameters: { resource: AUDIENCE },
    ...(dpop === undefined ? {} : { DPoP: dpop })
  })
  const raw = (await response.clone().json()) as Record<string, unknown>
  return { raw, result: await oauth.processRefreshTokenResponse(as, client, response) }
}

describe('development issuer and DPoP', () => {
  const started: DevIssuer[] = []

  async function start(options: Partial<DevIssuerOptions> = {}): Promise<DevIssuer> {
    const issuer = await startDevIssuer({ audience: AUDIENCE, spa: { redirectUris: [REDIRECT_URI], origins: [SPA_ORIGIN] }, ...options })
    started.push(issuer)
    return issuer
  }

  afterEach(async () => {
    await Promise.all(started.splice(0).map((issuer) => issuer.close()))
  })

  it('advertises DPoP with the algorithms the API accepts, and lets the SPA origin send the DPoP header', async () => {
    const issuer = await start()
    const metadata = (await (await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>
    expect(metadata['dpop_signing_alg_values_supported']).toEqual(['ES256', 'EdDSA', 'RS256', 'PS256'])
    expect(issuer.dpopSigningAlgs).toEqual(['ES256', 'EdDSA', 'RS256', 'PS256'])
    const preflight = await fetch(issuer.tokenEndpoint, {
      method: 'OPTIONS',
      headers: { origin: SPA_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,dpop' }
    })
    expect(preflight.headers.get('access-control-allow-origin')).toBe(SPA_ORIGIN)
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('dpop')
  })

  it('gives the SPA a DPoP-bound JWT access token for the API when it exchanges the code with a proof', async () => {
    const issuer = await start()
    const dpop = await dpopFor(issuer)
    const { raw, result } = await login(issuer, dpop)
    expect(raw['token_type']).toBe('DPoP')
    expect(decodeProtectedHeader(result.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'RS256' })
    expect(decodeJwt(result.access_token)).toMatchObject({
      iss: issuer.issuer,
      aud: AUDIENCE,
      client_id: issuer.spaClientId,
      scope: 'read:messages write:messages',
      cnf: { jkt: await dpop.calculateThumbprint() }
    })
    // the ID token is the app's, not bound
    expect(decodeJwt(result.id_token ?? '').cnf).toBeUndefined()
    expect(typeof result.refresh_token).toBe('string')
  })

  it('gives the SPA Bearer tokens when it sends no proof, and refreshes them without one', async () => {
    const issuer = await start()
    const first = await login(issuer, undefined)
    expect(first.raw['token_type']).toBe('Bearer')
    expect(decodeJwt(first.result.access_token).cnf).toBeUndefined()
    const next = await refresh(first, first.result.refresh_token ?? '', undefined)
    expect(next.raw['token_type']).toBe('Bearer')
    expect(decodeJwt(next.result.access_token).cnf).toBeUndefined()
  })

  it('refreshes a bound login only with a proof by the same key, and keeps the binding', async () => {
    const issuer = await start()
    const dpop = await dpopFor(issuer)
    const jkt = await dpop.calculateThumbprint()
    const first = await login(issuer, dpop)
    const refreshToken = first.result.refresh_token ?? ''

    // without a proof, or with a proof by another key: refused (the refresh token is bound too)
    await expect(refresh(first, refreshToken, undefined)).rejects.toMatchObject({ error: 'invalid_grant' })
    const stranger = await dpopFor(issuer)
    await expect(refresh(first, refreshToken, stranger)).rejects.toMatchObject({ error: 'invalid_grant' })

    const second = await refresh(first, refreshToken, dpop)
    expect(second.raw['token_type']).toBe('DPoP')
    expect(decodeJwt(second.result.access_token)).toMatchObject({ aud: AUDIENCE, cnf: { jkt } })
    expect(second.result.refresh_token).not.toBe(refreshToken)
    // and the rotated one in turn
    const third = await refresh(first, second.result.refresh_token ?? '', dpop)
    expect(decodeJwt(third.result.access_token)).toMatchObject({ cnf: { jkt } })
  })

  it('with dpopNonce, asks for its nonce (use_dpop_nonce, DPoP-Nonce) before it binds the tokens', async () => {
    const issuer = await start({ dpopNonce: true })
    expect(issuer.dpopNonce).toBe(true)
    const dpop = await dpopFor(issuer)
    const { as } = await login(issuer, undefined)
    const client: oauth.Client = { client_id: issuer.spaClientId }
    const send = () =>
      oauth
        .refreshTokenGrantRequest(as, client, oauth.None(), 'not-a-refresh-token', { ...insecure, DPoP: dpop })
        .then(async (response) => ({
          status: response.status,
          nonce: response.headers.get('dpop-nonce'),
          body: (await response.json()) as { error: string }
        }))
    // a proof without a nonce: 400 use_dpop_nonce, and the nonce to use
    const first = await send()
    expect(first).toMatchObject({ status: 400, body: { error: 'use_dpop_nonce' } })
    expect(first.nonce).toMatch(/^[A-Za-z0-9_-]+$/)
    // oauth4webapi kept it: the next proof passes, and the request fails only for its refresh token
    expect(await send()).toMatchObject({ status: 400, body: { error: 'invalid_grant' } })

    // a whole login: one retry with the nonce, then DPoP-bound tokens; a refresh reuses the nonce
    const bound = await login(issuer, await dpopFor(issuer))
    expect(bound.raw['token_type']).toBe('DPoP')
    const jkt = (decodeJwt(bound.result.access_token).cnf as { jkt: string }).jkt
    expect(jkt).toMatch(/^[A-Za-z0-9_-]{43}$/)
    // Bearer clients are not affected: no proof, no nonce
    expect((await login(issuer, undefined)).raw['token_type']).toBe('Bearer')
  })
})
