/**
 * Routing without trust (issue 18, items 2 and 3): a token's unverified `iss` (and `tid`)
 * picks one configured issuer or is refused with ERR_JWT_ISSUER_INVALID; no other `iss`
 * ever routes, whatever the token says.
 */
import fc from 'fast-check'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { AuthError } from '../../src/errors.js'
import { IssuerRouter } from '../../src/issuers/issuer-router.js'
import { fillTemplate, loadIssuersFile, singleIssuer, TENANT_ID, type TrustedIssuer } from '../../src/issuers/issuers-file.js'

const dir = mkdtempSync(join(tmpdir(), 'issuer-router-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const base = loadConfig({ AUTH_ISSUER: 'https://single.example/', AUTH_AUDIENCE: 'https://api.example' }).auth

let files = 0
function issuers(entries: unknown[]): TrustedIssuer[] {
  const path = join(dir, `issuers-${++files}.json`)
  writeFileSync(path, JSON.stringify({ issuers: entries }))
  return loadIssuersFile(path, base, {})
}

const AUTH0 = 'https://tenant.eu.auth0.example/'
const KEYCLOAK = 'https://keycloak.example/realms/staff'
const V2 = 'https://login.microsoftonline.com/{tenantid}/v2.0'
const V1 = 'https://sts.windows.net/{tenantid}/'
const T1 = '72f988bf-86f1-41af-91ab-2d7cd011db47'
const T2 = '9188040d-6c67-4c5b-b112-36a304b66dad'
const OTHER = 'f8cdef31-a31e-4b4a-93e4-5f571e91255a'
const v2 = (tid: string): string => `https://login.microsoftonline.com/${tid}/v2.0`
const v1 = (tid: string): string => `https://sts.windows.net/${tid}/`

const router = new IssuerRouter(
  issuers([
    { issuer: AUTH0, provider: 'auth0' },
    { issuer: KEYCLOAK, provider: 'keycloak' },
    { issuerTemplate: V2, tenants: [T1, T2], provider: 'entra', audiences: ['api-client-id'] }
  ])
)

/** The log reason of the refusal, after checking it is ERR_JWT_ISSUER_INVALID (401 invalid_token). */
function refusal(route: IssuerRouter, payload: Record<string, unknown>): string {
  try {
    route.route(payload)
  } catch (error) {
    expect(error).toBeInstanceOf(AuthError)
    const refused = error as AuthError
    expect(refused).toMatchObject({ code: 'ERR_JWT_ISSUER_INVALID', status: 401, oauthError: 'invalid_token', claim: 'iss' })
    return refused.reason ?? ''
  }
  throw new Error('expected a refusal')
}

describe('exact issuers', () => {
  it('route to their entry by exact equality', () => {
    expect(router.route({ iss: AUTH0, sub: 'a' })).toEqual({ issuer: router.issuers[0], iss: AUTH0 })
    expect(router.route({ iss: KEYCLOAK }).issuer.id).toBe(KEYCLOAK)
    // a tid does not matter to an exact issuer
    expect(router.route({ iss: AUTH0, tid: 'whatever/..' }).issuer.id).toBe(AUTH0)
  })

  it('a trailing-slash variant, another case or another scheme is another issuer', () => {
    for (const iss of [
      AUTH0.slice(0, -1),
      `${KEYCLOAK}/`,
      AUTH0.toUpperCase(),
      AUTH0.replace('https:', 'http:'),
      ` ${AUTH0}`,
      `${AUTH0}?`
    ]) {
      expect(refusal(router, { iss })).toContain('is not a configured issuer')
    }
  })

  it('refuses an unconfigured issuer, a missing iss and one that is not a string', () => {
    expect(refusal(router, { iss: 'https://evil.example/' })).toBe('iss "https://evil.example/" is not a configured issuer')
    expect(refusal(router, {})).toBe('iss missing')
    expect(refusal(router, { iss: [AUTH0] })).toBe('iss is not a string')
    expect(refusal(router, { iss: { toString: () => AUTH0 } })).toBe('iss is not a string')
    expect(refusal(router, { iss: '__proto__' })).toContain('is not a configured issuer')
    expect(refusal(router, { iss: 'x'.repeat(10_000) }).length).toBeLessThan(200)
  })

  it('a single-issuer configuration is a router with one exact entry', () => {
    const one = new IssuerRouter([singleIssuer(base)])
    expect(one.route({ iss: 'https://single.example/' }).issuer.auth).toBe(base)
    expect(refusal(one, { iss: 'https://single.example' })).toContain('is not a configured issuer')
  })
})

describe('issuer templates (multi-tenant Entra ID)', () => {
  it('route an allowed tenant whose iss is the template filled with its tid', () => {
    expect(router.route({ iss: v2(T1), tid: T1 })).toEqual({ issuer: router.issuers[2], iss: v2(T1) })
    expect(router.route({ iss: v2(T2), tid: T2 }).issuer.id).toBe(V2)
  })

  it('refuse another tenant', () => {
    expect(refusal(router, { iss: v2(OTHER), tid: OTHER })).toBe(`tenant "${OTHER}" is not allowed by template "${V2}"`)
  })

  it('refuse an iss that does not match the token’s own tid', () => {
    expect(refusal(router, { iss: v2(T1), tid: OTHER })).toContain(`is not template "${V2}" filled with the token's tid "${OTHER}"`)
    expect(refusal(router, { iss: v2(OTHER), tid: T1 })).toContain("filled with the token's tid")
    expect(refusal(router, { iss: v2(T1.toUpperCase()), tid: T1 })).toContain("filled with the token's tid")
  })

  it('refuse a token without tid, or with a tid that is not a tenant id', () => {
    expect(refusal(router, { iss: v2(T1) })).toContain('but the token has no tid')
    for (const tid of [42, null, [T1], '..', '.', 'a%2Fb', 'a?b', 'a#b', 'a\\b', 'a b', 'a:b', 'a@b', 'é', 'x'.repeat(65)]) {
      expect(refusal(router, { iss: fillTemplate(V2, String(tid)), tid })).toContain("the token's tid is not a tenant id")
    }
    // filled with these, the iss has not even the template's form
    for (const tid of ['', `${T1}/x`, `${T1}/..`, 'a/../b', '../common']) {
      expect(refusal(router, { iss: fillTemplate(V2, tid), tid })).toContain('is not a configured issuer')
    }
    // an iss with extra path segments where the tenant goes has not the template's form
    expect(refusal(router, { iss: v2(`${T1}/x`), tid: T1 })).toContain('is not a configured issuer')
    expect(refusal(router, { iss: 'https://login.microsoftonline.com/v2.0', tid: '' })).toContain('is not a configured issuer')
  })

  it('with "*", any tenant whose iss matches its tid', () => {
    const any = new IssuerRouter(issuers([{ issuerTemplate: V2, tenants: '*', provider: 'entra' }]))
    expect(any.route({ iss: v2(OTHER), tid: OTHER }).issuer.id).toBe(V2)
    expect(any.route({ iss: v2('contoso_1'), tid: 'contoso_1' }).iss).toBe(v2('contoso_1'))
    expect(refusal(any, { iss: v2(OTHER), tid: T1 })).toContain("filled with the token's tid")
    expect(refusal(any, { iss: v2('..'), tid: '..' })).toContain('is not a tenant id')
    expect(refusal(any, { iss: v2(OTHER) })).toContain('has no tid')
  })

  it('never route a v1 token to a v2 template, nor the reverse', () => {
    expect(refusal(router, { iss: v1(T1), tid: T1, ver: '1.0' })).toBe(`iss "${v1(T1)}" is not a configured issuer`)
    const onlyV1 = new IssuerRouter(issuers([{ issuerTemplate: V1, tenants: [T1], provider: 'entra' }]))
    expect(onlyV1.route({ iss: v1(T1), tid: T1, ver: '1.0' }).issuer.id).toBe(V1)
    expect(refusal(onlyV1, { iss: v2(T1), tid: T1, ver: '2.0' })).toContain('is not a configured issuer')
    const both = new IssuerRouter(
      issuers([
        { issuerTemplate: V1, tenants: [T1], provider: 'entra', audiences: ['api://my-api'] },
        { issuerTemplate: V2, tenants: [T1], provider: 'entra', audiences: ['my-client-id'] }
      ])
    )
    expect(both.route({ iss: v1(T1), tid: T1 }).issuer.auth.audiences).toEqual(['api://my-api'])
    expect(both.route({ iss: v2(T1), tid: T1 }).issuer.auth.audiences).toEqual(['my-client-id'])
  })

  it('an exact entry takes precedence over a template', () => {
    const special = new IssuerRouter(
      issuers([
        { issuerTemplate: V2, tenants: '*', provider: 'entra' },
        { issuer: v2(T1), audiences: ['special'], jwksUri: 'https://login.microsoftonline.com/common/discovery/v2.0/keys' }
      ])
    )
    expect(special.route({ iss: v2(T1), tid: T1 }).issuer).toMatchObject({ kind: 'exact', auth: { audiences: ['special'] } })
    expect(special.route({ iss: v2(T1), tid: 'irrelevant' }).issuer.kind).toBe('exact')
    expect(special.route({ iss: v2(T2), tid: T2 }).issuer.kind).toBe('template')
  })

  it('a token fitting two templates is refused as ambiguous', () => {
    const keys = 'https://idp.example/keys'
    const two = new IssuerRouter(
      issuers([
        { issuerTemplate: 'https://idp.example/{tenantid}/abc', tenants: '*', jwksUri: keys },
        { issuerTemplate: 'https://idp.example/abc/{tenantid}', tenants: '*', jwksUri: keys }
      ])
    )
    expect(refusal(two, { iss: 'https://idp.example/abc/abc', tid: 'abc' })).toContain('fits templates')
    expect(two.route({ iss: 'https://idp.example/xyz/abc', tid: 'xyz' }).issuer.index).toBe(0)
  })

  it('names the one issuer that accepts opaque tokens', () => {
    expect(router.opaque).toBeUndefined()
    const withOpaque = new IssuerRouter(
      issuers([
        { issuer: AUTH0 },
        { issuer: KEYCLOAK, tokenFormats: ['jwt', 'opaque'], introspection: { clientId: 'api', clientSecret: 's' } }
      ])
    )
    expect(withOpaque.opaque?.id).toBe(KEYCLOAK)
  })
})

describe('the router refuses configurations the file loader refuses', () => {
  it('the same exact issuer twice', () => {
    const [one] = issuers([{ issuer: AUTH0 }])
    expect(() => new IssuerRouter([one!, { ...one!, index: 1 }])).toThrow(/configured twice/)
  })
})

describe('property: no other iss ever routes', () => {
  const exact = [AUTH0, KEYCLOAK]
  const allowed = new Set([T1, T2])

  /** Strings near the configured ones (a character added, dropped or changed) and anything else. */
  const nearMiss = fc.oneof(
    fc.constantFrom(...exact, v2(T1), v2(T2), v1(T1)),
    fc.tuple(fc.constantFrom(...exact, v2(T1)), fc.string({ maxLength: 3 }), fc.nat()).map(([s, extra, at]) => {
      const i = at % (s.length + 1)
      return s.slice(0, i) + extra + s.slice(i + (extra === '' ? 1 : 0))
    }),
    fc.webUrl(),
    fc.string({ maxLength: 80 })
  )
  const tid = fc.oneof(fc.constantFrom(T1, T2, OTHER, '..', `${T1}/..`), fc.string({ maxLength: 70 }), fc.constant(undefined))

  it('routes exactly when iss is a configured issuer, or the template filled with an allowed tid', () => {
    fc.assert(
      fc.property(nearMiss, tid, fc.boolean(), (iss, tenant, fill) => {
        // half the time, the iss is built from the token's own tid, as an attacker would
        const claimed = fill && tenant !== undefined ? fillTemplate(V2, tenant) : iss
        const payload: Record<string, unknown> = tenant === undefined ? { iss: claimed } : { iss: claimed, tid: tenant }
        const expected = exact.includes(claimed)
          ? claimed
          : tenant !== undefined && TENANT_ID.test(tenant) && allowed.has(tenant) && claimed === v2(tenant)
            ? V2
            : undefined
        let routed: string | undefined
        try {
          const route = router.route(payload)
          expect(route.iss).toBe(claimed)
          routed = route.issuer.id
        } catch (error) {
          expect(error).toBeInstanceOf(AuthError)
          expect((error as AuthError).code).toBe('ERR_JWT_ISSUER_INVALID')
        }
        expect(routed).toBe(expected)
      }),
      { numRuns: 5000 }
    )
  })

  it('an arbitrary iss never routes unless it equals a configured issuer (exact entries only)', () => {
    const exactOnly = new IssuerRouter(issuers([{ issuer: AUTH0 }, { issuer: KEYCLOAK }]))
    fc.assert(
      fc.property(fc.oneof(nearMiss, fc.anything()), fc.anything(), (iss, tenant) => {
        let routed: string | undefined
        try {
          routed = exactOnly.route({ iss, tid: tenant }).issuer.id
        } catch (error) {
          expect((error as AuthError).code).toBe('ERR_JWT_ISSUER_INVALID')
        }
        expect(routed).toBe(typeof iss === 'string' && exact.includes(iss) ? iss : undefined)
      }),
      { numRuns: 5000 }
    )
  })
})
