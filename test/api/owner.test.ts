/**
 * Owner keys: distinct (issuer, kind, id) triples never share a key, however their parts are spelled.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ownerKey, ownerOf, type Owner } from '../../src/messages/owner.js'
import type { AccessTokenIdentity } from '../../src/token/identity.js'

const identity = (fields: Partial<AccessTokenIdentity>): AccessTokenIdentity => ({
  sub: undefined,
  clientId: undefined,
  scopes: [],
  binding: undefined,
  issuer: 'https://a.example',
  expiresAt: 1,
  format: 'jwt',
  claims: {},
  ...fields
})

describe('message owners', () => {
  it('a sub owns as a user, a client without sub as a client, of its own issuer', () => {
    expect(ownerOf(identity({ sub: 'client:x', clientId: 'x' }))).toEqual({ issuer: 'https://a.example', kind: 'user', id: 'client:x' })
    expect(ownerOf(identity({ clientId: 'x' }))).toEqual({ issuer: 'https://a.example', kind: 'client', id: 'x' })
    expect(ownerKey(ownerOf(identity({ sub: 'u', issuer: 'https://a.example' })))).not.toBe(
      ownerKey(ownerOf(identity({ sub: 'u', issuer: 'https://b.example' })))
    )
    expect(() => ownerOf(identity({}))).toThrow(expect.objectContaining({ code: 'ERR_JWT_CLAIM_MISSING' }))
  })

  it('property: two owners share a key only when they are the same owner', () => {
    const part = fc.string({ unit: fc.constantFrom('a', ':', '"', ',', '[', ']', '\\', 'client', 'user', ' '), maxLength: 6 })
    const owner = fc.record({ issuer: part, kind: fc.constantFrom<Owner['kind']>('user', 'client'), id: part })
    fc.assert(
      fc.property(owner, owner, (a, b) => {
        const same = a.issuer === b.issuer && a.kind === b.kind && a.id === b.id
        expect(ownerKey(a) === ownerKey(b)).toBe(same)
      }),
      { numRuns: 2000 }
    )
  })
})
