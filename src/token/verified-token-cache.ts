/**
 * A bounded cache of tokens that passed every check, keyed by the token itself.
 * It never serves a token past its `exp` (nor before its `nbf`), with the same clock
 * tolerance as a full check, and only successes are ever stored.
 */
import { AuthError } from './errors.js'
import type { AccessTokenIdentity } from './identity.js'

interface Entry {
  identity: AccessTokenIdentity
  /** Seconds: the entry is usable while notBefore <= now < notAfter. */
  notBefore: number
  notAfter: number
}

export class VerifiedTokenCache {
  readonly #max: number
  readonly #entries = new Map<string, Entry>()

  constructor (maxEntries: number) {
    this.#max = maxEntries
  }

  get size (): number {
    return this.#entries.size
  }

  /** The identity for a cached token, or undefined; throws when the cached token has expired. */
  get (token: string, now: number): AccessTokenIdentity | undefined {
    const entry = this.#entries.get(token)
    if (entry === undefined) return undefined
    if (now >= entry.notAfter) {
      this.#entries.delete(token)
      throw new AuthError('ERR_JWT_EXPIRED', 'The access token has expired.', { claim: 'exp', reason: 'exp in the past (cached token)' })
    }
    if (now < entry.notBefore) return undefined // checked in full again
    return entry.identity
  }

  /** `notAfter` is exp + tolerance (or the introspection TTL), `notBefore` is nbf - tolerance. */
  set (token: string, identity: AccessTokenIdentity, notBefore: number, notAfter: number): void {
    if (this.#max === 0) return
    if (this.#entries.size >= this.#max) {
      // Drop the oldest entry (Map keeps insertion order): bounded memory whatever the traffic.
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(token, { identity, notBefore, notAfter })
  }

  delete (token: string): void {
    this.#entries.delete(token)
  }

  clear (): void {
    this.#entries.clear()
  }
}
