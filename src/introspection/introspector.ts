/**
 * Opaque access tokens (RFC 7662): ask the issuer's introspection endpoint what a token
 * means, with the API's own credentials (client_secret_basic). The answer passes the same
 * claim rules as a JWT (checkIntrospectionAnswer, src/token/access-token-claims.ts).
 * Answers are reused for at most the cache TTL and never past the token's `exp`; concurrent
 * lookups of one token are merged; calls in flight are bounded, and past that bound, or when
 * the endpoint fails, the request gets 503 with Retry-After rather than a guess. An endpoint
 * learned from the issuer's metadata is used only on the issuer's own origin (see
 * discoveredEndpointRefusal): the client secret goes nowhere else unless
 * AUTH_INTROSPECTION_URL says so.
 *
 * The answers (refusals too) are kept in the bounded store the verified-token cache uses
 * (src/cache/bounded-store.ts), admitted on first use: unlike a JWT's signature check, a miss
 * here is a call to the authorization server, which a second-use admission would double for
 * every token used twice; a flood of one-off strings is held off by the in-flight bound, and
 * keeps only the last AUTH_INTROSPECTION_CACHE_SIZE answers.
 */
import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { performance } from 'node:perf_hooks'
import { BoundedStore, EXPIRED } from '../cache/bounded-store.js'
import type { AuthConfig } from '../config.js'
import { AuthError } from '../errors.js'
import { fetchJson } from '../remote/fetch-json.js'
import type { IssuerMetadataSource } from '../remote/issuer-metadata.js'
import { withTimeout } from '../remote/timeout.js'
import { checkIntrospectionAnswer, claimRulesFor } from '../token/access-token-claims.js'
import type { AccessTokenIdentity } from '../token/identity.js'

export interface IntrospectionMetrics {
  introspections: { inc(labels: { outcome: string }): void }
  introspectionLatency: { observe(seconds: number): void }
}

export interface IntrospectorOptions {
  auth: AuthConfig
  issuer: string
  /** Where the introspection endpoint is learned when AUTH_INTROSPECTION_URL is unset (the key store's discovery). */
  keyStore: IssuerMetadataSource
  metrics: IntrospectionMetrics
  log: { warn(obj: object, msg: string): void }
  now?: () => number
}

const MAX_ANSWER_BYTES = 64 * 1024

function unavailable(reason: string, retryAfter = 5): AuthError {
  return new AuthError('ERR_INTROSPECTION_UNAVAILABLE', { reason, retryAfter })
}

/** application/x-www-form-urlencoded serialisation of one value (WHATWG URL, as RFC 6749 §2.3.1 asks). */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1)
}

function basic(id: string, secret: string): string {
  // RFC 6749 §2.3.1: form-urlencode each part before base64 (so a ':' in the id is %3A)
  return `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString('base64')}`
}

/** A URL for the logs: no user or password, at most 200 characters. */
function withoutCredentials(value: string): string {
  const url = URL.parse(value)
  if (url !== null) {
    url.username = ''
    url.password = ''
  }
  return (url?.href ?? value).slice(0, 200)
}

/** 127.0.0.0/8, ::1 and localhost: where plain http never leaves the machine. */
function isLoopback(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true
  return isIP(hostname) === 4 && hostname.startsWith('127.')
}

/**
 * Why an introspection endpoint learned from the issuer's metadata must not receive the API's
 * credentials, or undefined when it may: it must be on the issuer's own origin, over https
 * (http only when the issuer itself is http on a loopback host). An endpoint elsewhere is used
 * only when AUTH_INTROSPECTION_URL names it.
 */
export function discoveredEndpointRefusal(endpoint: string, issuer: string): string | undefined {
  const url = URL.parse(endpoint)
  const issuerUrl = URL.parse(issuer)
  if (url === null || issuerUrl === null) return 'not an absolute URL'
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `not an http(s) URL (${url.protocol})`
  if (url.username !== '' || url.password !== '') return 'it carries credentials'
  if (url.origin !== issuerUrl.origin) return `not on the issuer's origin ${issuerUrl.origin}`
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) return 'plain http on a host other than loopback'
  return undefined
}

export function createIntrospector(options: IntrospectorOptions): (token: string) => Promise<AccessTokenIdentity> {
  const { auth, issuer, metrics, log } = options
  const settings = auth.introspection
  const now = options.now ?? Date.now
  /** Answers by the token's SHA-256, in ms; refusals are kept too (an unknown string twice is one call). */
  const cache = new BoundedStore<AccessTokenIdentity | AuthError>({ maxEntries: settings.cacheMaxEntries })
  const pending = new Map<string, Promise<AccessTokenIdentity>>()
  const authorization = basic(settings.clientId ?? '', settings.clientSecret ?? '')
  const rules = claimRulesFor(auth, issuer)
  let inFlight = 0
  const refusedEndpoints = new Set<string>()
  async function endpoint(): Promise<string> {
    if (settings.url !== undefined) return settings.url
    const timedOut = (): Error => unavailable(`issuer metadata not obtained within ${settings.timeoutMs} ms`)
    const metadata = await withTimeout(settings.timeoutMs, () => options.keyStore.metadata(), timedOut)
    const url = metadata?.introspection_endpoint
    if (typeof url !== 'string')
      throw unavailable('no introspection endpoint (set AUTH_INTROSPECTION_URL or publish introspection_endpoint)')
    const refusal = discoveredEndpointRefusal(url, issuer)
    if (refusal !== undefined) {
      // once per endpoint: every request would otherwise repeat it
      if (!refusedEndpoints.has(url)) {
        refusedEndpoints.add(url)
        log.warn(
          { endpoint: withoutCredentials(url), issuer, reason: refusal },
          'introspection endpoint from the issuer metadata refused; set AUTH_INTROSPECTION_URL to use it'
        )
      }
      throw unavailable(`introspection_endpoint refused: ${refusal}`)
    }
    return url
  }

  function remember(key: string, result: AccessTokenIdentity | AuthError, expiresAt: number | undefined): void {
    let until = now() + settings.cacheTtl * 1000
    // never past exp: once the token has expired, the authorization server is asked again
    if (expiresAt !== undefined) until = Math.min(until, expiresAt * 1000)
    if (until <= now()) return
    cache.set(key, result, -Infinity, until)
  }

  /** Runs with one in-flight slot already taken; gives it back when the call settles. */
  async function call(key: string, token: string): Promise<AccessTokenIdentity> {
    const started = performance.now()
    let body: Record<string, unknown>
    try {
      const url = await endpoint()
      ;({ body } = await fetchJson(url, {
        method: 'POST',
        timeoutMs: settings.timeoutMs,
        maxBytes: MAX_ANSWER_BYTES,
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString()
      }))
      metrics.introspections.inc({ outcome: 'answered' })
    } catch (error) {
      metrics.introspections.inc({ outcome: 'failed' })
      log.warn({ err: error instanceof AuthError ? (error.reason ?? error.message) : (error as Error).message }, 'introspection failed')
      throw error instanceof AuthError ? error : unavailable((error as Error).message)
    } finally {
      inFlight--
      metrics.introspectionLatency.observe((performance.now() - started) / 1000)
    }
    try {
      const identity = checkIntrospectionAnswer(body, rules, now() / 1000)
      remember(key, identity, identity.expiresAt)
      return identity
    } catch (error) {
      if (error instanceof AuthError) remember(key, error, typeof body.exp === 'number' ? body.exp : undefined)
      throw error
    }
  }

  return async function introspect(token: string): Promise<AccessTokenIdentity> {
    const key = createHash('sha256').update(token).digest('base64url')
    const cached = cache.get(key, now())
    if (cached !== undefined && cached !== EXPIRED) {
      if (cached instanceof AuthError) throw cached
      return cached
    }
    const running = pending.get(key)
    if (running !== undefined) return running
    if (inFlight >= settings.maxInFlight) {
      metrics.introspections.inc({ outcome: 'shed' })
      throw unavailable(`${inFlight} introspections in flight`, 1)
    }
    // take the slot now, before any await, so that simultaneous requests see it
    inFlight++
    const lookup = call(key, token).finally(() => pending.delete(key))
    pending.set(key, lookup)
    return lookup
  }
}
