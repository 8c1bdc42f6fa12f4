// Helpers that drive a real OpenID provider (the development issuer) over loopback HTTP:
// client credentials, the whole authorization code flow with PKCE as a browser would do it,
// refresh, revocation and introspection.
import * as oauth from 'oauth4webapi'

/** A token, revocation or introspection endpoint answered with an error. */
export class OAuthHttpError extends Error {
  readonly status: number
  readonly body: unknown

  constructor(what: string, status: number, body: unknown) {
    const detail = typeof body === 'object' && body !== null && 'error' in body ? JSON.stringify(body) : String(body)
    super(`${what} failed with HTTP ${status}: ${detail}`)
    this.name = 'OAuthHttpError'
    this.status = status
    this.body = body
  }

  /** The OAuth `error` code of the answer, when it has one. */
  get error(): string | undefined {
    const { body } = this
    return typeof body === 'object' && body !== null && 'error' in body && typeof body.error === 'string' ? body.error : undefined
  }
}

export interface TokenResponse {
  access_token: string
  token_type: string
  expires_in: number
  scope?: string
}

export interface LoginTokens {
  id_token: string
  access_token: string
  refresh_token?: string
  expires_in: number
  scope?: string
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding. */
function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+')
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text()
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

async function postForm(url: string, form: Record<string, string | undefined>, authorization?: string): Promise<Response> {
  const body = new URLSearchParams()
  for (const [key, value] of Object.entries(form)) if (value !== undefined) body.set(key, value)
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json'
  }
  if (authorization !== undefined) headers['authorization'] = authorization
  return fetch(url, { method: 'POST', headers, body })
}

function assertTokenResponse(body: unknown): asserts body is TokenResponse {
  if (typeof body !== 'object' || body === null) throw new Error('token response is not a JSON object')
  const { access_token: accessToken, token_type: tokenType, expires_in: expiresIn } = body as Record<string, unknown>
  if (typeof accessToken !== 'string' || typeof tokenType !== 'string' || typeof expiresIn !== 'number') {
    throw new Error(`unexpected token response: ${JSON.stringify(body)}`)
  }
}

/** `grant_type=client_credentials` with `client_secret_basic`. Throws OAuthHttpError on an error answer. */
export async function clientCredentialsToken(o: {
  tokenEndpoint: string
  clientId: string
  clientSecret: string
  resource?: string
  scope?: string
}): Promise<TokenResponse> {
  const response = await postForm(
    o.tokenEndpoint,
    { grant_type: 'client_credentials', scope: o.scope, resource: o.resource },
    basicAuthorization(o.clientId, o.clientSecret)
  )
  const body = await readBody(response)
  if (!response.ok) throw new OAuthHttpError('client_credentials token request', response.status, body)
  assertTokenResponse(body)
  return body
}

/** `grant_type=refresh_token` for a public client. Throws OAuthHttpError on an error answer. */
export async function refreshTokens(o: {
  tokenEndpoint: string
  clientId: string
  refreshToken: string
  scope?: string
  resource?: string
}): Promise<TokenResponse & { refresh_token?: string; id_token?: string }> {
  const response = await postForm(o.tokenEndpoint, {
    grant_type: 'refresh_token',
    client_id: o.clientId,
    refresh_token: o.refreshToken,
    scope: o.scope,
    resource: o.resource
  })
  const body = await readBody(response)
  if (!response.ok) throw new OAuthHttpError('refresh_token request', response.status, body)
  assertTokenResponse(body)
  return body
}

/** RFC 7009 revocation with `client_secret_basic`. */
export async function revokeToken(o: {
  revocationEndpoint: string
  clientId: string
  clientSecret: string
  token: string
  tokenTypeHint?: string
}): Promise<void> {
  const response = await postForm(
    o.revocationEndpoint,
    { token: o.token, token_type_hint: o.tokenTypeHint },
    basicAuthorization(o.clientId, o.clientSecret)
  )
  if (!response.ok) throw new OAuthHttpError('revocation', response.status, await readBody(response))
  await response.body?.cancel()
}

/** RFC 7662 introspection with `client_secret_basic`; resolves to the JSON answer. */
export async function introspectToken(o: {
  introspectionEndpoint: string
  clientId: string
  clientSecret: string
  token: string
  tokenTypeHint?: string
}): Promise<Record<string, unknown>> {
  const response = await postForm(
    o.introspectionEndpoint,
    { token: o.token, token_type_hint: o.tokenTypeHint ?? 'access_token' },
    basicAuthorization(o.clientId, o.clientSecret)
  )
  const body = await readBody(response)
  if (!response.ok || typeof body !== 'object' || body === null) {
    throw new OAuthHttpError('introspection', response.status, body)
  }
  return body as Record<string, unknown>
}

interface StoredCookie {
  name: string
  value: string
  path: string
  expiresAt: number
}

/** Just enough of a browser cookie jar for one origin: names, paths and expiry. */
class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>()

  store(url: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';')
      const separator = pair.indexOf('=')
      if (separator <= 0) continue
      const name = pair.slice(0, separator).trim()
      const value = pair.slice(separator + 1).trim()
      let path = url.pathname.replace(/\/[^/]*$/, '') || '/'
      let expiresAt = Infinity
      for (const attribute of attributes) {
        const [rawKey = '', ...rest] = attribute.split('=')
        const key = rawKey.trim().toLowerCase()
        const attributeValue = rest.join('=').trim()
        if (key === 'path' && attributeValue.startsWith('/')) path = attributeValue
        if (key === 'expires') expiresAt = Date.parse(attributeValue)
        if (key === 'max-age') expiresAt = Date.now() + Number(attributeValue) * 1000
      }
      const id = `${name};${path}`
      if (expiresAt <= Date.now()) this.#cookies.delete(id)
      else this.#cookies.set(id, { name, value, path, expiresAt })
    }
  }

  header(url: URL): string | undefined {
    const now = Date.now()
    const matching = [...this.#cookies.values()]
      .filter((cookie) => cookie.expiresAt > now)
      .filter(
        (cookie) => cookie.path === '/' || url.pathname === cookie.path || url.pathname.startsWith(`${cookie.path.replace(/\/$/, '')}/`)
      )
      .sort((a, b) => b.path.length - a.path.length)
    return matching.length === 0 ? undefined : matching.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ')
  }
}

function decodeHtmlAttribute(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

function sameEndpoint(a: URL, b: URL): boolean {
  return a.origin === b.origin && a.pathname === b.pathname
}

/**
 * Runs the authorization code flow with PKCE (S256), `state` and `nonce` like a browser and an
 * SPA together: follows the issuer's redirects with a cookie jar, posts the sign-in form with the
 * given credentials, lets the issuer grant consent, then exchanges the code (oauth4webapi, which
 * also checks the ID token's `iss`, `aud` and `nonce`). Resolves to the token response.
 */
export async function authorizationCodeLogin(o: {
  issuer: string
  clientId: string
  redirectUri: string
  username: string
  password: string
  scope?: string
  resource?: string
}): Promise<LoginTokens> {
  const insecure = { [oauth.allowInsecureRequests]: true }
  const issuer = new URL(o.issuer)
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure))
  if (as.authorization_endpoint === undefined) throw new Error('issuer metadata has no authorization_endpoint')
  const client: oauth.Client = { client_id: o.clientId }

  const codeVerifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const authorizationUrl = new URL(as.authorization_endpoint)
  const query: Record<string, string> = {
    client_id: o.clientId,
    redirect_uri: o.redirectUri,
    response_type: 'code',
    scope: o.scope ?? 'openid profile email read:messages write:messages',
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce
  }
  if (o.resource !== undefined) query['resource'] = o.resource
  for (const [key, value] of Object.entries(query)) authorizationUrl.searchParams.set(key, value)

  const redirectUri = new URL(o.redirectUri)
  const jar = new CookieJar()
  let url = authorizationUrl
  let request: { method: 'GET' | 'POST'; body?: URLSearchParams } = { method: 'GET' }
  let callback: URL | undefined
  let signedIn = false

  for (let hop = 0; hop < 20 && callback === undefined; hop += 1) {
    const headers: Record<string, string> = { accept: 'text/html' }
    const cookie = jar.header(url)
    if (cookie !== undefined) headers['cookie'] = cookie
    if (request.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded'
    const response = await fetch(url, { method: request.method, headers, body: request.body, redirect: 'manual' })
    jar.store(url, response.headers.getSetCookie())

    const location = response.headers.get('location')
    if (response.status >= 300 && response.status < 400 && location !== null) {
      await response.body?.cancel()
      const next = new URL(location, url)
      if (sameEndpoint(next, redirectUri)) callback = next
      url = next
      request = { method: 'GET' }
      continue
    }

    const html = await response.text()
    const action = /<form[^>]*\baction="([^"]*\/login)"/i.exec(html)?.[1]
    if (response.status === 200 && action !== undefined && !signedIn) {
      signedIn = true
      url = new URL(decodeHtmlAttribute(action), url)
      request = { method: 'POST', body: new URLSearchParams({ username: o.username, password: o.password }) }
      continue
    }
    throw new Error(`authorization flow stopped at ${url.pathname} with HTTP ${response.status}: ${html.slice(0, 300)}`)
  }
  if (callback === undefined) throw new Error('authorization flow did not reach the redirect URI')

  const error = callback.searchParams.get('error')
  if (error !== null) {
    throw new Error(`authorization failed: ${error} ${callback.searchParams.get('error_description') ?? ''}`.trim())
  }

  const params = oauth.validateAuthResponse(as, client, callback, state)
  const tokenResponse = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, o.redirectUri, codeVerifier, {
    ...insecure,
    ...(o.resource === undefined ? {} : { additionalParameters: { resource: o.resource } })
  })
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, tokenResponse, {
    expectedNonce: nonce,
    requireIdToken: true
  })
  if (tokens.id_token === undefined || typeof tokens.expires_in !== 'number') {
    throw new Error('token response without id_token or expires_in')
  }
  const result: LoginTokens = {
    id_token: tokens.id_token,
    access_token: tokens.access_token,
    expires_in: tokens.expires_in
  }
  if (tokens.refresh_token !== undefined) result.refresh_token = tokens.refresh_token
  if (tokens.scope !== undefined) result.scope = tokens.scope
  return result
}
