/**
 * The verified-token cache: bounded, oldest out first, admission on second use, exact-token
 * matches only, never past exp or before nbf.
 */
import { describe, expect, it } from 'vitest'
import type { AccessTokenIdentity } from '../../src/token/identity.js'
import { VerifiedTokenCache } from '../../src/token/verified-token-cache.js'

const identity = (sub: string): AccessTokenIdentity => ({
  sub,
  clientId: 'c',
  scopes: [],
  binding: undefined,
  issuer: 'i',
  expiresAt: 100,
  format: 'jwt',
  claims: {}
})
const token = (n: number): string => `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.${n.toString(36).padStart(43, 'A')}`

function admit(cache: VerifiedTokenCache, value: string, sub = 'u'): void {
  cache.set(value, identity(sub), 0, 100)
  cache.set(value, identity(sub), 0, 100)
}

describe('VerifiedTokenCache', () => {
  it('admits a token on its second verification only', () => {
    const cache = new VerifiedTokenCache(10)
    cache.set(token(1), identity('a'), 0, 100)
    expect(cache.get(token(1), 50)).toBeUndefined()
    cache.set(token(1), identity('a'), 0, 100)
    expect(cache.get(token(1), 50)?.sub).toBe('a')
  })

  it('serves only the exact token it stored, even when another ends the same way', () => {
    const cache = new VerifiedTokenCache(10)
    admit(cache, token(7), 'a')
    const lookalike = `X${token(7).slice(1)}`
    expect(cache.get(lookalike, 50)).toBeUndefined()
    admit(cache, lookalike, 'b')
    expect(cache.get(lookalike, 50)?.sub).toBe('b')
    expect(cache.get(token(7), 50)).toBeUndefined() // replaced under the shared key, never confused
  })

  it('stays bounded and evicts the oldest first, through many rounds', () => {
    const cache = new VerifiedTokenCache(100)
    for (let i = 0; i < 10_000; i++) {
      admit(cache, token(i))
      expect(cache.size).toBeLessThanOrEqual(100)
    }
    expect(cache.size).toBe(100)
    expect(cache.get(token(9_899), 50)).toBeUndefined()
    expect(cache.get(token(9_900), 50)).toBeDefined()
    expect(cache.get(token(9_999), 50)).toBeDefined()
  })

  it('throws once a token expires and forgets it; waits for nbf', () => {
    const cache = new VerifiedTokenCache(10)
    cache.set(token(1), identity('a'), 10, 20)
    cache.set(token(1), identity('a'), 10, 20)
    expect(cache.get(token(1), 5)).toBeUndefined()
    expect(cache.get(token(1), 15)?.sub).toBe('a')
    expect(() => cache.get(token(1), 20)).toThrow(expect.objectContaining({ code: 'ERR_JWT_EXPIRED' }))
    expect(cache.get(token(1), 15)).toBeUndefined()
  })

  it('does not store a verification that began before clear() (its keys may be gone)', () => {
    const cache = new VerifiedTokenCache(10)
    const before = cache.generation
    cache.set(token(1), identity('a'), 0, 100, before)
    cache.clear()
    cache.set(token(1), identity('a'), 0, 100, before)
    cache.set(token(1), identity('a'), 0, 100, before)
    expect(cache.size).toBe(0)
    expect(cache.get(token(1), 50)).toBeUndefined()
    const after = cache.generation
    expect(after).not.toBe(before)
    cache.set(token(1), identity('a'), 0, 100, after)
    cache.set(token(1), identity('a'), 0, 100, after)
    expect(cache.get(token(1), 50)?.sub).toBe('a')
  })

  it('stores nothing with size 0, and clear() forgets everything', () => {
    const off = new VerifiedTokenCache(0)
    admit(off, token(1))
    expect(off.size).toBe(0)
    const cache = new VerifiedTokenCache(10)
    admit(cache, token(1))
    cache.clear()
    expect(cache.size).toBe(0)
    cache.set(token(1), identity('a'), 0, 100) // the doorkeeper was cleared too
    expect(cache.get(token(1), 50)).toBeUndefined()
  })
})
