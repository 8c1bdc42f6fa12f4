/**
 * The claims rules of src/token/access-token-claims.ts on plain objects, for both formats:
 * a verified JWT's payload and an introspection answer. Each rule passes and fails alone
 * (every other member valid), then the two compositions keep their order, and both build the
 * same identity. The HTTP-level tests (test/api/token-rules, test/introspection/answer) show
 * the same rules through the gate.
 */
import { describe, expect, it } from 'vitest'
import type { TokenFormat } from '../../src/config.js'
import { isAuthError } from '../../src/errors.js'
import {
  checkAudience,
  checkClient,
  checkIntrospectedTokenType,
  checkIntrospectionAnswer,
  checkIssuer,
  checkJwtClaims,
  checkNotBefore,
  checkNotExpired,
  checkSenderConstraint,
  clientIdOf,
  dateClaim,
  identityOf,
  isNumericDate,
  jwtValidity,
  MAX_NUMERIC_DATE,
  scopesOf,
  type ClaimRules
} from '../../src/token/access-token-claims.js'
import { PROVIDER_RULES } from '../../src/token/providers.js'

const ISS = 'https://issuer.example'
const AUD = 'https://api.example'
const NOW = 1_700_000_000
const TOLERANCE = 5

function rules(overrides: Partial<ClaimRules> = {}): ClaimRules {
  return {
    issuer: ISS,
    audiences: new Set([AUD, 'https://second.example']),
    clockTolerance: TOLERANCE,
    clientIds: new Set(),
    audienceOptionalWithClientId: false,
    required: [],
    provider: PROVIDER_RULES.generic,
    ...overrides
  }
}

/** The least a JWT needs: iss, aud, exp. A value of undefined removes a claim. */
function jwt(claims: Record<string, unknown> = {}): Record<string, unknown> {
  return withoutUndefined({ iss: ISS, aud: AUD, exp: NOW + 300, ...claims })
}

/** The least an introspection answer needs: active and aud. */
function answer(claims: Record<string, unknown> = {}): Record<string, unknown> {
  return withoutUndefined({ active: true, aud: AUD, ...claims })
}

function withoutUndefined(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined))
}

const of: Record<TokenFormat, (claims?: Record<string, unknown>) => Record<string, unknown>> = { jwt, opaque: answer }

/** The whole check of a format: the JWT's claims, or the introspection answer. */
function check(format: TokenFormat, claims: Record<string, unknown>, ruleSet = rules(), now = NOW): void {
  if (format === 'jwt') checkJwtClaims(claims, ruleSet, now)
  else checkIntrospectionAnswer(claims, ruleSet, now)
}

interface Refusal {
  code: string
  claim: string | undefined
  description: string
}

function refusal(run: () => unknown): Refusal | undefined {
  try {
    run()
  } catch (error) {
    if (!isAuthError(error)) throw error
    return { code: error.code, claim: error.claim, description: error.description }
  }
  return undefined
}

const FORMATS: TokenFormat[] = ['jwt', 'opaque']

describe('the least valid token passes', () => {
  it.each(FORMATS)('%s', (format) => {
    expect(refusal(() => check(format, of[format]()))).toBeUndefined()
  })
})

describe('exp', () => {
  it.each(FORMATS)('%s: a date to come passes; one within the tolerance too; one past it is refused', (format) => {
    expect(refusal(() => check(format, of[format]({ exp: NOW + 1 })))).toBeUndefined()
    expect(refusal(() => check(format, of[format]({ exp: NOW - TOLERANCE + 1 })))).toBeUndefined()
    expect(refusal(() => check(format, of[format]({ exp: NOW - TOLERANCE })))).toEqual({
      code: 'ERR_JWT_EXPIRED',
      claim: 'exp',
      description: 'The access token has expired.'
    })
    expect(refusal(() => check(format, of[format]({ exp: NOW - 3600 })))?.code).toBe('ERR_JWT_EXPIRED')
  })

  it('is required in a JWT, optional in an introspection answer (RFC 7662 §2.2)', () => {
    expect(refusal(() => check('jwt', jwt({ exp: undefined })))).toEqual({
      code: 'ERR_JWT_CLAIM_MISSING',
      claim: 'exp',
      description: 'The access token has no "exp" claim.'
    })
    expect(refusal(() => check('opaque', answer({ exp: undefined })))).toBeUndefined()
  })

  it('must be a NumericDate: a number, finite, from 1970 to the year 9999', () => {
    expect(refusal(() => check('jwt', jwt({ exp: String(NOW + 300) })))).toEqual({
      code: 'ERR_JWT_CLAIM_INVALID',
      claim: 'exp',
      description: 'The access token\'s "exp" claim is not a NumericDate.'
    })
    expect(refusal(() => check('opaque', answer({ exp: String(NOW + 300) })))).toEqual({
      code: 'ERR_JWT_CLAIM_INVALID',
      claim: 'exp',
      description: 'The access token\'s "exp" is not a NumericDate.'
    })
    for (const exp of [MAX_NUMERIC_DATE + 1, 1e300, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(refusal(() => check('jwt', jwt({ exp })))?.description).toBe(
        'The access token\'s "exp" claim is not a valid date (a NumericDate from 1970 to the year 9999).'
      )
      expect(refusal(() => check('opaque', answer({ exp })))?.description).toBe(
        'The access token\'s "exp" is not a valid date (a NumericDate from 1970 to the year 9999).'
      )
    }
  })
})

describe('nbf', () => {
  it.each(FORMATS)('%s: absent, past, or within the tolerance passes; beyond it is refused; it must be a NumericDate', (format) => {
    expect(refusal(() => check(format, of[format]({ nbf: NOW - 60 })))).toBeUndefined()
    expect(refusal(() => check(format, of[format]({ nbf: NOW + TOLERANCE })))).toBeUndefined()
    expect(refusal(() => check(format, of[format]({ nbf: NOW + TOLERANCE + 1 })))).toEqual({
      code: 'ERR_JWT_NOT_YET_VALID',
      claim: 'nbf',
      description: 'The access token is not valid yet (nbf).'
    })
    expect(refusal(() => check(format, of[format]({ nbf: 'yesterday' })))).toMatchObject({ code: 'ERR_JWT_CLAIM_INVALID', claim: 'nbf' })
    expect(refusal(() => check(format, of[format]({ nbf: 1e20 })))).toMatchObject({ code: 'ERR_JWT_CLAIM_INVALID', claim: 'nbf' })
  })
})

describe('iat', () => {
  it('of a JWT: in the future beyond the tolerance is refused, and it must be a NumericDate', () => {
    expect(refusal(() => check('jwt', jwt({ iat: NOW + TOLERANCE })))).toBeUndefined()
    expect(refusal(() => check('jwt', jwt({ iat: NOW + TOLERANCE + 1 })))).toEqual({
      code: 'ERR_JWT_ISSUED_IN_FUTURE',
      claim: 'iat',
      description: 'The access token was issued in the future (iat).'
    })
    expect(refusal(() => check('jwt', jwt({ iat: 'now' })))).toMatchObject({ code: 'ERR_JWT_CLAIM_INVALID', claim: 'iat' })
  })

  it('of an introspection answer: not checked', () => {
    expect(refusal(() => check('opaque', answer({ iat: NOW + 3600 })))).toBeUndefined()
  })
})

describe('the date rules on their own', () => {
  it('dateClaim reads a date claim or refuses it; isNumericDate bounds it', () => {
    expect(dateClaim({ exp: 10 }, 'exp', 'jwt')).toBe(10)
    expect(dateClaim({}, 'nbf', 'opaque')).toBeUndefined()
    expect(isNumericDate(0)).toBe(true)
    expect(isNumericDate(MAX_NUMERIC_DATE)).toBe(true)
    expect(isNumericDate(MAX_NUMERIC_DATE + 1)).toBe(false)
    expect(isNumericDate('1')).toBe(false)
  })

  it('checkNotExpired and checkNotBefore apply the tolerance at its very edge', () => {
    const ruleSet = rules()
    expect(refusal(() => checkNotExpired(NOW, ruleSet, NOW + TOLERANCE - 0.001, 'jwt'))).toBeUndefined()
    expect(refusal(() => checkNotExpired(NOW, ruleSet, NOW + TOLERANCE, 'opaque'))?.code).toBe('ERR_JWT_EXPIRED')
    expect(refusal(() => checkNotBefore(undefined, ruleSet, NOW, 'jwt'))).toBeUndefined()
    expect(refusal(() => checkNotBefore(NOW + TOLERANCE, ruleSet, NOW, 'jwt'))).toBeUndefined()
    expect(refusal(() => checkNotBefore(NOW + TOLERANCE + 0.001, ruleSet, NOW, 'opaque'))?.code).toBe('ERR_JWT_NOT_YET_VALID')
  })

  it('jwtValidity is the window in which the checks pass again', () => {
    expect(jwtValidity(jwt({ exp: NOW + 300, nbf: NOW - 10 }), rules())).toEqual({
      notBefore: NOW - 10 - TOLERANCE,
      notAfter: NOW + 300 + TOLERANCE
    })
    expect(jwtValidity(jwt({ exp: NOW + 300 }), rules())).toEqual({ notBefore: -Infinity, notAfter: NOW + 300 + TOLERANCE })
  })
})

describe('iss', () => {
  it.each(FORMATS)('%s: exactly the issuer passes; another, or the same with a trailing slash, is refused', (format) => {
    expect(refusal(() => check(format, of[format]({ iss: ISS })))).toBeUndefined()
    for (const iss of ['https://evil.example', `${ISS}/`, ISS.toUpperCase()]) {
      expect(refusal(() => check(format, of[format]({ iss })))).toEqual({
        code: 'ERR_JWT_ISSUER_INVALID',
        claim: 'iss',
        description: 'The access token was not issued by an issuer this API trusts.'
      })
    }
  })

  it('is required in a JWT, and a string; optional in an introspection answer, where any other value is refused', () => {
    expect(refusal(() => check('jwt', jwt({ iss: undefined })))).toMatchObject({ code: 'ERR_JWT_CLAIM_MISSING', claim: 'iss' })
    expect(refusal(() => check('opaque', answer({ iss: undefined })))).toBeUndefined()
    expect(refusal(() => check('jwt', jwt({ iss: 5 })))).toEqual({
      code: 'ERR_JWT_CLAIM_INVALID',
      claim: 'iss',
      description: 'The access token\'s "iss" claim is not a string.'
    })
    expect(refusal(() => check('opaque', answer({ iss: null })))?.code).toBe('ERR_JWT_ISSUER_INVALID')
    expect(refusal(() => checkIssuer({ iss: 5 }, rules(), 'opaque'))?.code).toBe('ERR_JWT_ISSUER_INVALID')
  })
})

describe('aud', () => {
  it.each(FORMATS)('%s: one configured audience, alone or in an array, passes', (format) => {
    expect(refusal(() => check(format, of[format]({ aud: AUD })))).toBeUndefined()
    expect(refusal(() => check(format, of[format]({ aud: ['https://other.example', 'https://second.example'] })))).toBeUndefined()
  })

  it("naming another API is refused, in each format's words", () => {
    for (const aud of ['https://other.example', [], ['https://other.example'], AUD.slice(0, -1)]) {
      expect(refusal(() => check('jwt', jwt({ aud })))).toEqual({
        code: 'ERR_JWT_AUDIENCE_INVALID',
        claim: 'aud',
        description: 'The access token is not meant for this API (its "aud" claim does not name this API).'
      })
      expect(refusal(() => check('opaque', answer({ aud })))).toEqual({
        code: 'ERR_JWT_AUDIENCE_INVALID',
        claim: 'aud',
        description: 'The access token is not meant for this API (its audience does not name this API).'
      })
    }
  })

  it('of a JWT: required, and a string or an array of strings', () => {
    expect(refusal(() => check('jwt', jwt({ aud: undefined })))).toMatchObject({ code: 'ERR_JWT_CLAIM_MISSING', claim: 'aud' })
    for (const aud of [5, { aud: AUD }, [AUD, 5], null]) {
      expect(refusal(() => check('jwt', jwt({ aud })))).toEqual({
        code: 'ERR_JWT_CLAIM_INVALID',
        claim: 'aud',
        description: 'The access token\'s "aud" claim is not a string or an array of strings.'
      })
    }
  })

  it('of a JWT under Cognito: a client_id stands in for a missing aud (the allowlist checks it)', () => {
    const cognito = rules({ audienceOptionalWithClientId: true, clientIds: new Set(['app']) })
    expect(refusal(() => check('jwt', jwt({ aud: undefined, client_id: 'app' }), cognito))).toBeUndefined()
    expect(refusal(() => check('jwt', jwt({ aud: undefined }), cognito))).toMatchObject({ code: 'ERR_JWT_CLAIM_MISSING', claim: 'aud' })
    expect(refusal(() => check('jwt', jwt({ aud: undefined, client_id: 'other' }), cognito))?.code).toBe('ERR_CLIENT_NOT_ALLOWED')
    expect(refusal(() => check('opaque', answer({ aud: undefined, client_id: 'app' }), cognito))?.code).toBe('ERR_JWT_AUDIENCE_INVALID')
  })

  it('of an introspection answer: only its strings count, and without one naming this API it is refused', () => {
    expect(refusal(() => check('opaque', answer({ aud: [5, null, AUD] })))).toBeUndefined()
    expect(refusal(() => check('opaque', answer({ aud: undefined })))?.code).toBe('ERR_JWT_AUDIENCE_INVALID')
    expect(refusal(() => checkAudience({ aud: 5 }, rules(), 'opaque'))?.code).toBe('ERR_JWT_AUDIENCE_INVALID')
  })
})

describe('the client allowlist (AUTH_CLIENT_IDS)', () => {
  const allowlist = rules({ clientIds: new Set(['app']) })
  const notAllowed = {
    code: 'ERR_CLIENT_NOT_ALLOWED',
    claim: 'client_id',
    description: 'The access token was issued to a client this API does not accept.'
  }

  it.each(FORMATS)('%s: client_id in the list passes; another, or none, is refused; an empty list allows any', (format) => {
    expect(refusal(() => check(format, of[format]({ client_id: 'app' }), allowlist))).toBeUndefined()
    expect(refusal(() => check(format, of[format]({ client_id: 'intruder' }), allowlist))).toEqual(notAllowed)
    expect(refusal(() => check(format, of[format](), allowlist))).toEqual(notAllowed)
    expect(refusal(() => check(format, of[format]({ client_id: 'anyone' })))).toBeUndefined()
  })

  it('a JWT names its client with client_id, azp, cid or appid (the first string); an introspection answer with client_id only', () => {
    for (const claim of ['azp', 'cid', 'appid']) {
      expect(clientIdOf({ [claim]: 'app' }, 'jwt')).toBe('app')
      expect(clientIdOf({ [claim]: 'app' }, 'opaque')).toBeUndefined()
      expect(refusal(() => checkClient({ [claim]: 'app' }, allowlist, 'jwt'))).toBeUndefined()
      expect(refusal(() => checkClient({ [claim]: 'app' }, allowlist, 'opaque'))).toEqual(notAllowed)
    }
    expect(clientIdOf({ client_id: 5, azp: 'app' }, 'jwt')).toBe('app')
    expect(clientIdOf({ client_id: 'first', azp: 'second' }, 'jwt')).toBe('first')
  })
})

describe('a key binding (cnf) with the Bearer scheme', () => {
  const bound = {
    code: 'ERR_TOKEN_SENDER_CONSTRAINED',
    claim: undefined,
    description: 'This access token is bound to a key ("cnf", e.g. DPoP) and cannot be used with the Bearer scheme.'
  }

  it.each(FORMATS)('%s: any cnf is refused; none passes', (format) => {
    expect(refusal(() => checkSenderConstraint(of[format](), format))).toBeUndefined()
    expect(refusal(() => checkSenderConstraint(of[format]({ cnf: { jkt: 'thumbprint' } }), format))).toEqual(bound)
    expect(refusal(() => checkSenderConstraint(of[format]({ cnf: { 'x5t#S256': 'thumbprint' } }), format))).toEqual(bound)
  })

  it("an introspection answer with token_type DPoP is bound too (RFC 9449 §6.2), in any case; a JWT's token_type means nothing", () => {
    expect(refusal(() => checkSenderConstraint(answer({ token_type: 'DPoP' }), 'opaque'))).toEqual(bound)
    expect(refusal(() => checkSenderConstraint(answer({ token_type: 'dpop' }), 'opaque'))).toEqual(bound)
    expect(refusal(() => checkSenderConstraint(jwt({ token_type: 'DPoP' }), 'jwt'))).toBeUndefined()
  })

  it('is not part of the claim checks of either format: the identity carries the binding, and the gate holds it against the scheme', () => {
    expect(refusal(() => check('opaque', answer({ cnf: {} })))).toBeUndefined()
    expect(refusal(() => check('jwt', jwt({ cnf: { jkt: 'thumbprint' } })))).toBeUndefined()
  })
})

describe('the other claims of a JWT', () => {
  it.each(['sub', 'client_id', 'azp', 'jti', 'scope'])('%s must be a string when present', (claim) => {
    expect(refusal(() => check('jwt', jwt({ [claim]: 'x' })))).toBeUndefined()
    expect(refusal(() => check('jwt', jwt({ [claim]: ['x'] })))).toEqual({
      code: 'ERR_JWT_CLAIM_INVALID',
      claim,
      description: `The access token's "${claim}" claim is not a string.`
    })
  })

  it("the profile's required claims (rfc9068: sub, client_id, iat, jti) must be present", () => {
    const rfc9068 = rules({ required: ['sub', 'client_id', 'iat', 'jti'] })
    const complete = { sub: 'u', client_id: 'c', iat: NOW, jti: 'j' }
    expect(refusal(() => check('jwt', jwt(complete), rfc9068))).toBeUndefined()
    for (const claim of rfc9068.required) {
      expect(refusal(() => check('jwt', jwt({ ...complete, [claim]: undefined }), rfc9068))).toEqual({
        code: 'ERR_JWT_CLAIM_MISSING',
        claim,
        description: `The access token has no "${claim}" claim.`
      })
    }
  })
})

describe('the members only an introspection answer has', () => {
  it('active must be exactly true', () => {
    for (const active of [false, 'true', 1, undefined, null]) {
      expect(refusal(() => check('opaque', answer({ active })))).toEqual({
        code: 'ERR_TOKEN_INACTIVE',
        claim: undefined,
        description: 'The access token is not active (it is unknown, expired or revoked).'
      })
    }
  })

  it('token_type, when present, names an access token (Bearer or access_token, in any case)', () => {
    for (const tokenType of [undefined, 'Bearer', 'bearer', 'access_token', 5]) {
      expect(refusal(() => checkIntrospectedTokenType(answer({ token_type: tokenType })))).toBeUndefined()
    }
    expect(refusal(() => checkIntrospectedTokenType(answer({ token_type: 'refresh_token' })))).toEqual({
      code: 'ERR_NOT_ACCESS_TOKEN',
      claim: undefined,
      description: 'A token of type "refresh_token" was presented where an access token is required; send the access token instead.'
    })
    expect(refusal(() => checkIntrospectedTokenType(answer({ token_type: 'N_A' })))?.description).toMatch(
      /^A token of type "n_a" was presented/
    )
    expect(refusal(() => checkIntrospectedTokenType(answer({ token_type: 'x'.repeat(50) })))?.description).toContain(`"${'x'.repeat(30)}"`)
  })
})

describe('each format checks its rules in its own order', () => {
  it('a JWT: iss and aud before the dates', () => {
    expect(refusal(() => check('jwt', jwt({ iss: 'https://evil.example', exp: NOW - 3600 })))?.code).toBe('ERR_JWT_ISSUER_INVALID')
    expect(refusal(() => check('jwt', jwt({ aud: 'https://other.example', exp: NOW - 3600 })))?.code).toBe('ERR_JWT_AUDIENCE_INVALID')
    expect(refusal(() => check('jwt', jwt({ exp: NOW - 3600, nbf: 'x' })))?.code).toBe('ERR_JWT_EXPIRED')
  })

  it('an introspection answer: active, then the dates (both read before either is compared), then iss and aud', () => {
    expect(refusal(() => check('opaque', answer({ active: false, exp: 'x' })))?.code).toBe('ERR_TOKEN_INACTIVE')
    expect(refusal(() => check('opaque', answer({ iss: 'https://evil.example', exp: NOW - 3600 })))?.code).toBe('ERR_JWT_EXPIRED')
    expect(refusal(() => check('opaque', answer({ exp: NOW - 3600, nbf: 'x' })))?.code).toBe('ERR_JWT_CLAIM_INVALID')
    expect(refusal(() => check('opaque', answer({ aud: 'https://other.example', cnf: {} })))?.code).toBe('ERR_JWT_AUDIENCE_INVALID')
  })
})

describe('scopes and the identity', () => {
  it("a JWT grants scope, scp and the provider's claims, each once; an introspection answer only its scope string", () => {
    const claims = {
      scope: 'read write read',
      scp: ['admin', 'read'],
      permissions: ['delete'],
      realm_access: { roles: ['realm'] },
      resource_access: { [AUD]: { roles: ['client-role'] }, other: { roles: ['foreign'] } }
    }
    expect(scopesOf(claims, rules(), 'jwt')).toEqual(['read', 'write', 'admin'])
    expect(scopesOf(claims, rules({ provider: PROVIDER_RULES.auth0 }), 'jwt')).toEqual(['read', 'write', 'admin', 'delete'])
    expect(scopesOf(claims, rules({ provider: PROVIDER_RULES.keycloak }), 'jwt')).toEqual([
      'read',
      'write',
      'admin',
      'realm',
      'client-role'
    ])
    expect(scopesOf(claims, rules({ provider: PROVIDER_RULES.auth0 }), 'opaque')).toEqual(['read', 'write'])
    expect(scopesOf({ scope: ['read'] }, rules(), 'opaque')).toEqual([])
    expect(scopesOf({ scope: '  a   b ' }, rules(), 'opaque')).toEqual(['a', 'b'])
    expect(scopesOf({ scp: 'a b' }, rules(), 'jwt')).toEqual(['a', 'b'])
  })

  it.each(FORMATS)('%s: the same shape, frozen', (format) => {
    const claims = of[format]({ sub: 'user-1', client_id: 'app', scope: 'read', iss: ISS })
    const identity = identityOf(claims, rules(), format)
    expect(identity).toEqual({
      sub: 'user-1',
      clientId: 'app',
      scopes: ['read'],
      issuer: ISS,
      expiresAt: format === 'jwt' ? NOW + 300 : undefined,
      format,
      claims
    })
    expect(Object.isFrozen(identity)).toBe(true)
    expect(Object.isFrozen(identity.scopes)).toBe(true)
    expect(Object.isFrozen(identity.claims)).toBe(true)
  })

  it('checkIntrospectionAnswer returns the identity of the answer it accepted', () => {
    const identity = checkIntrospectionAnswer(answer({ sub: 5, client_id: 'app', exp: NOW + 60, scope: 'a a b' }), rules(), NOW)
    expect(identity).toMatchObject({
      sub: undefined,
      clientId: 'app',
      scopes: ['a', 'b'],
      expiresAt: NOW + 60,
      format: 'opaque',
      issuer: ISS
    })
  })
})
