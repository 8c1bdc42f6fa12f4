/**
 * The issuer's signing keys, the one remote dependency on the request path.
 *
 * - fetched at start, cached (Cache-Control max-age within bounds, else the configured TTL),
 *   refreshed in the background before they expire;
 * - one fetch in flight at a time, whatever the number of waiting requests;
 * - an unknown `kid` causes at most one refetch per cooldown, for all kids together;
 * - when the issuer fails, the keys already held keep being served up to `maxStale`;
 *   with no usable key a request gets ERR_KEYS_UNAVAILABLE (503 + Retry-After) within a
 *   bounded wait, and retries back off until the issuer answers again;
 * - a key that comes back unchanged in a refetch keeps its converted key object;
 * - a refused key is logged once, not at every refetch that still publishes it;
 * - a token without `kid` is tried against MAX_KEYS_WITHOUT_KID keys at most.
 */
import { AuthError } from '../errors.js'
import { fetchJson, FetchFailed } from '../remote/fetch-json.js'
import { IssuerDiscovery, type IssuerMetadata, type IssuerMetadataSource } from '../remote/issuer-metadata.js'
import { withTimeout } from '../remote/timeout.js'
import { importJwk, KeyRejected, type VerificationKey } from './jwk-import.js'

export interface KeyStoreLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export type FetchEvent = { kind: 'discovery' | 'jwks'; outcome: 'success' | 'failure' }

/** Schedules the background refresh; injectable so that tests can fire it on demand. */
export interface KeyStoreTimers {
  set(callback: () => void, delayMs: number): unknown
  clear(handle: unknown): void
}

const realTimers: KeyStoreTimers = {
  set: (callback, delayMs) => setTimeout(callback, delayMs).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout)
}

export interface KeyStoreOptions {
  issuer: string
  jwksUri: string | undefined
  algorithms: ReadonlySet<string>
  fetchTimeoutMs: number
  /** Seconds keys are fresh when the response sets no max-age. */
  cacheTtl: number
  /** Seconds between two refetches caused by unknown kids. */
  cooldown: number
  /** Seconds past the last successful fetch that keys are still served while the issuer fails. */
  maxStale: number
  maxBytes: number
  /** Longest a request waits for a fetch in flight, in ms (the fetch itself goes on). */
  requestWaitMs?: number
  now?: () => number
  timers?: KeyStoreTimers
  log?: KeyStoreLogger
  onFetch?: (event: FetchEvent) => void
}

const MIN_MAX_AGE = 30
const MAX_MAX_AGE = 86_400
const MAX_BACKOFF_MS = 30_000

const silent: KeyStoreLogger = { info() {}, warn() {} }

/**
 * A token without `kid` is checked against at most this many keys: an issuer that leaves
 * `kid` out publishes one key, or up to three around a rotation (previous, current, next).
 * Without a bound, a set of hundreds of keys would turn every kid-less token with a bad
 * signature into hundreds of signature checks. Keys published without a `kid` come first
 * (only a kid-less token can select them), then the others, each in published order.
 */
export const MAX_KEYS_WITHOUT_KID = 3

/** The keys a token without `kid` and with this `alg` is checked against, in the order tried. */
function keysWithoutKid(keys: readonly VerificationKey[], alg: string): VerificationKey[] {
  const found: VerificationKey[] = []
  for (const withKid of [false, true]) {
    for (const key of keys) {
      if ((key.kid !== undefined) !== withKid || !key.algorithms.has(alg as never)) continue
      found.push(key)
      if (found.length === MAX_KEYS_WITHOUT_KID) return found
    }
  }
  return found
}

export class KeyStore implements IssuerMetadataSource {
  readonly #options: KeyStoreOptions
  readonly #now: () => number
  readonly #log: KeyStoreLogger
  readonly #timers: KeyStoreTimers
  readonly #abort = new AbortController()
  #byKid = new Map<string, VerificationKey[]>()
  #keys: VerificationKey[] = []
  /** The converted keys of the current set, by their JWK as published, reused by the next fetch. */
  #imported = new Map<string, VerificationKey>()
  /** The refused keys of the last set fetched, by their JWK as published: each is logged once. */
  #refused = new Set<string>()
  /** The issuer's metadata: where the keys are (unless AUTH_JWKS_URI says), and the other endpoints. */
  readonly #discovery: IssuerDiscovery
  #fetchedAt = -Infinity
  /** When the current set's lifetime (max-age or cacheTtl) ends: the next request refreshes it. */
  #expiresAt = -Infinity
  #lastUnknownKidFetch = -Infinity
  #failures = 0
  #nextRetryAt = 0
  #inFlight: Promise<void> | undefined
  #timer: unknown
  #closed = false
  #listeners: Array<() => void> = []

  constructor(options: KeyStoreOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#log = options.log ?? silent
    this.#timers = options.timers ?? realTimers
    this.#discovery = new IssuerDiscovery({
      issuer: options.issuer,
      fetch: { timeoutMs: options.fetchTimeoutMs, maxBytes: options.maxBytes, signal: this.#abort.signal },
      now: this.#now,
      onFetch: (outcome) => options.onFetch?.({ kind: 'discovery', outcome })
    })
  }

  /** First fetch; never throws (a failure is logged, retried in the background, and reported by readiness). */
  async start(): Promise<void> {
    await this.refresh('start').catch(() => undefined)
  }

  close(): void {
    this.#closed = true
    if (this.#timer !== undefined) this.#timers.clear(this.#timer)
    this.#timer = undefined
    this.#abort.abort()
  }

  /** Keys are loaded and not older than maxStale. */
  get ready(): boolean {
    return this.#keys.length > 0 && this.#now() - this.#fetchedAt <= this.#options.maxStale * 1000
  }

  get keyCount(): number {
    return this.#keys.length
  }

  /**
   * Called when a refetch may refuse a token the previous set accepted: a key disappeared or
   * changed in any way (material, `kid`, `alg`, `use`, `key_ops`: its published JWK differs),
   * or a key left the ones tried for tokens without `kid`. Caches built on the old set must go.
   * Keys merely added (and a set republished unchanged) do not call it.
   */
  onKeysChanged(listener: () => void): void {
    this.#listeners.push(listener)
  }

  /**
   * The issuer's metadata (introspection and authorization endpoints), discovered with the
   * keys, or on its own when AUTH_JWKS_URI makes key fetching skip discovery. A failed
   * discovery is not retried for a few seconds.
   */
  metadata(): Promise<IssuerMetadata | undefined> {
    return this.#discovery.metadata()
  }

  /**
   * The keys that may verify a token with this header. Synchronous when the answer is in
   * the cache; a promise when a fetch has to happen first.
   */
  select(kid: string | undefined, alg: string): VerificationKey[] | Promise<VerificationKey[]> {
    if (this.ready) {
      this.#refreshIfExpired()
      const found = this.#find(kid, alg)
      if (found.length > 0) return found
      if (kid !== undefined && this.#byKid.has(kid)) throw this.#noMatchingKey(kid, alg, 'kid known, algorithm does not fit')
      // A fetch already in flight costs the issuer nothing more: every unknown kid waits for
      // it (a key rotated in is found by all the requests that carry it, not only the first).
      if (this.#inFlight === undefined) {
        if (this.#now() - this.#lastUnknownKidFetch < this.#options.cooldown * 1000) {
          throw this.#noMatchingKey(kid, alg, 'unknown kid, refetch cooling down')
        }
        this.#lastUnknownKidFetch = this.#now()
      }
      return this.#waitForRefresh('unknown kid').then(
        () => this.#selectAfterFetch(kid, alg),
        () => this.#selectAfterFetch(kid, alg)
      )
    }
    if (this.#inFlight === undefined && this.#now() < this.#nextRetryAt) throw this.#unavailable()
    return this.#waitForRefresh('no usable keys').then(
      () => this.#selectAfterFetch(kid, alg),
      () => this.#selectAfterFetch(kid, alg)
    )
  }

  /** Past the set's lifetime (the background timer did not run: suspended process, clock jump), refresh without waiting. */
  #refreshIfExpired(): void {
    const now = this.#now()
    if (now < this.#expiresAt || this.#inFlight !== undefined || now < this.#nextRetryAt || this.#closed) return
    this.refresh('expired').catch(() => undefined)
  }

  #selectAfterFetch(kid: string | undefined, alg: string): VerificationKey[] {
    if (!this.ready) throw this.#unavailable()
    const found = this.#find(kid, alg)
    if (found.length === 0) throw this.#noMatchingKey(kid, alg, 'no key after refetch')
    return found
  }

  #find(kid: string | undefined, alg: string): VerificationKey[] {
    if (kid !== undefined) {
      const withKid = this.#byKid.get(kid)
      return withKid === undefined ? [] : withKid.filter((key) => key.algorithms.has(alg as never))
    }
    return keysWithoutKid(this.#keys, alg)
  }

  #noMatchingKey(kid: string | undefined, alg: string, why: string): AuthError {
    return new AuthError('ERR_JWKS_NO_MATCHING_KEY', {
      reason: `${why} (kid ${kid === undefined ? 'absent' : JSON.stringify(kid.slice(0, 64))}, alg ${alg})`
    })
  }

  #unavailable(): AuthError {
    const retryAfter = Math.max(1, Math.ceil((this.#nextRetryAt - this.#now()) / 1000))
    return new AuthError('ERR_KEYS_UNAVAILABLE', {
      retryAfter,
      reason: `no usable keys (${this.#failures} failed fetches)`
    })
  }

  /** Joins the fetch in flight (or starts one), waiting at most requestWaitMs. */
  #waitForRefresh(why: string): Promise<void> {
    const waitMs = this.#options.requestWaitMs ?? Math.min(this.#options.fetchTimeoutMs, 3000)
    return withTimeout(
      waitMs,
      () => this.refresh(why),
      () => new FetchFailed('request wait elapsed')
    )
  }

  /** Fetches discovery (when needed) and the JWKS; one fetch in flight at a time. */
  refresh(why: string): Promise<void> {
    if (this.#inFlight !== undefined) return this.#inFlight
    if (this.#closed) return Promise.reject(new FetchFailed('the key store is closed'))
    const run = this.#fetchKeys(why).finally(() => {
      this.#inFlight = undefined
    })
    this.#inFlight = run
    return run
  }

  async #fetchKeys(why: string): Promise<void> {
    const options = { timeoutMs: this.#options.fetchTimeoutMs, maxBytes: this.#options.maxBytes, signal: this.#abort.signal }
    try {
      let jwksUri = this.#options.jwksUri
      if (jwksUri === undefined) {
        jwksUri = (await this.#discovery.discover()).jwks_uri
        if (jwksUri === undefined) throw new FetchFailed('the issuer metadata has no jwks_uri')
      }
      let fetched, keys, imported
      try {
        fetched = await fetchJson(jwksUri, options)
        ;({ keys, imported } = this.#importAll(fetched.body))
        if (keys.length === 0) throw new FetchFailed(`${jwksUri}: no usable signing key in the set`)
      } catch (error) {
        this.#options.onFetch?.({ kind: 'jwks', outcome: 'failure' })
        throw error
      }
      this.#options.onFetch?.({ kind: 'jwks', outcome: 'success' })
      const ttl = fetched.maxAge === undefined ? this.#options.cacheTtl : Math.min(MAX_MAX_AGE, Math.max(MIN_MAX_AGE, fetched.maxAge))
      this.#install(keys, imported, ttl)
      this.#failures = 0
      this.#nextRetryAt = 0
      this.#schedule(ttl * 800) // refresh at 80 % of the lifetime
      this.#log.info({ keys: keys.length, ttl, why }, 'issuer signing keys loaded')
    } catch (error) {
      this.#failures++
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.#failures - 1, 10))
      this.#nextRetryAt = this.#now() + backoff
      this.#schedule(backoff)
      this.#log.warn(
        { why, failures: this.#failures, err: (error as Error).message, servingCachedKeys: this.ready },
        'issuer signing keys could not be fetched'
      )
      throw error
    }
  }

  #importAll(body: Record<string, unknown>): { keys: VerificationKey[]; imported: Map<string, VerificationKey> } {
    if (!Array.isArray(body.keys)) throw new FetchFailed('the JWKS has no "keys" array')
    const keys: VerificationKey[] = []
    const imported = new Map<string, VerificationKey>()
    const refused = new Set<string>()
    for (const jwk of body.keys as unknown[]) {
      if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) continue
      const published = JSON.stringify(jwk)
      // Refused and logged by an earlier fetch: the same JWK gets the same answer, so neither
      // the conversion nor the log line is repeated at every refetch.
      if (this.#refused.has(published)) {
        refused.add(published)
        continue
      }
      try {
        const key = this.#imported.get(published) ?? importJwk(jwk as Record<string, unknown>, this.#options.algorithms)
        imported.set(published, key)
        keys.push(key)
      } catch (error) {
        if (!(error instanceof KeyRejected)) throw error
        refused.add(published)
        const kid = (jwk as { kid?: unknown }).kid
        const fields = { kid: typeof kid === 'string' ? kid : undefined, why: error.message }
        if (error.unsafe) this.#log.warn(fields, 'issuer key ignored')
        else this.#log.info(fields, 'issuer key ignored')
      }
    }
    // Kept even when the fetch fails for want of a usable key: its retries do not log again.
    this.#refused = refused
    return { keys, imported }
  }

  #install(keys: VerificationKey[], imported: Map<string, VerificationKey>, ttl: number): void {
    const changed = this.#changes(keys)
    const byKid = new Map<string, VerificationKey[]>()
    for (const key of keys) {
      if (key.kid === undefined) continue
      const list = byKid.get(key.kid)
      if (list === undefined) byKid.set(key.kid, [key])
      else list.push(key)
    }
    this.#keys = keys
    this.#byKid = byKid
    this.#imported = imported
    this.#fetchedAt = this.#now()
    this.#expiresAt = this.#fetchedAt + ttl * 1000
    if (changed) for (const listener of this.#listeners) listener()
  }

  /**
   * Whether a token the current set verifies could be refused with `next`. Key objects are
   * kept per published JWK (#imported), so a key missing from `next` by identity was removed
   * or republished with other material or metadata. Additions are harmless, except that they
   * may push a key out of the few tried for a token without `kid`.
   */
  #changes(next: readonly VerificationKey[]): boolean {
    const kept = new Set(next)
    if (this.#keys.some((key) => !kept.has(key))) return true
    for (const alg of this.#options.algorithms) {
      const tried = new Set(keysWithoutKid(next, alg))
      if (keysWithoutKid(this.#keys, alg).some((key) => !tried.has(key))) return true
    }
    return false
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return
    if (this.#timer !== undefined) this.#timers.clear(this.#timer)
    this.#timer = this.#timers.set(() => {
      this.#timer = undefined
      this.refresh('background').catch(() => undefined)
    }, delayMs)
  }
}
