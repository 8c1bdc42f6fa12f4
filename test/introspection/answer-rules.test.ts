/**
 * The introspection-answer rules (checkIntrospectionAnswer, src/token/access-token-claims.ts)
 * on plain objects: the answers test/introspection/answer.test.ts sends through the gate, here
 * without an issuer or an app, each with the refusal code and sentence a client gets.
 */
import { describe, expect, it } from 'vitest'
import type { AuthConfig } from '../../src/config.js'
import { isAuthError } from '../../src/errors.js'
import { checkIntrospectionAnswer, claimRulesFor } from '../../src/token/access-token-claims.js'

const ISSUER = 'https://issuer.example.test'
const AUDIENCE = 'https://api.example.test'
const NOW = 1_700_000_000

function rulesOf (overrides: Partial<AuthConfig> = {}): ReturnType<typeof claimRulesFor> {
  const auth = { audiences: [AUDIENCE], clockTolerance: 5, clientIds: [], provider: 'generic', profile: 'auto', ...overrides } as unknown as AuthConfig
  return claimRulesFor(auth, ISSUER)
}

/** An answer for a valid token, as an RFC 7662 endpoint gives it; undefined removes a member. */
function active (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const answer: Record<string, unknown> = {
    active: true, token_type: 'Bearer', iss: ISSUER, aud: AUDIENCE, sub: 'user-1', client_id: 'test-client', scope: 'read:messages write:messages', exp: NOW + 300, iat: NOW - 10, ...overrides
  }
  return Object.fromEntries(Object.entries(answer).filter(([, value]) => value !== undefined))
}

function outcome (answer: Record<string, unknown>, rules = rulesOf()): { code: string; description: string } | 'accepted' {
  try {
    checkIntrospectionAnswer(answer, rules, NOW)
    return 'accepted'
  } catch (error) {
    if (!isAuthError(error)) throw error
    expect(error.status).toBe(401)
    expect(error.oauthError).toBe('invalid_token')
    return { code: error.code, description: error.description }
  }
}

const INACTIVE = { code: 'ERR_TOKEN_INACTIVE', description: 'The access token is not active (it is unknown, expired or revoked).' }
const EXPIRED = { code: 'ERR_JWT_EXPIRED', description: 'The access token has expired.' }
const WRONG_ISSUER = { code: 'ERR_JWT_ISSUER_INVALID', description: 'The access token was not issued by the issuer this API trusts.' }
const WRONG_AUDIENCE = { code: 'ERR_JWT_AUDIENCE_INVALID', description: 'The access token is not meant for this API (its audience does not name this API).' }
const BOUND = { code: 'ERR_TOKEN_SENDER_CONSTRAINED', description: 'This access token is bound to a key ("cnf", e.g. DPoP) and cannot be used with the Bearer scheme.' }
const otherType = (type: string): { code: string; description: string } => ({ code: 'ERR_NOT_ACCESS_TOKEN', description: `A token of type "${type}" was presented where an access token is required; send the access token instead.` })

describe('answers refused', () => {
  const refused: Array<[string, Record<string, unknown>, { code: string; description: string }]> = [
    ['active false', { active: false }, INACTIVE],
    ['active false with every other member', active({ active: false }), INACTIVE],
    ['active missing', active({ active: undefined }), INACTIVE],
    ['active "true" (a string)', active({ active: 'true' }), INACTIVE],
    ['active 1', active({ active: 1 }), INACTIVE],
    ['exp past beyond the tolerance', active({ exp: NOW - 6 }), EXPIRED],
    ['exp long past', active({ exp: NOW - 3600 }), EXPIRED],
    ['exp not a number', active({ exp: String(NOW + 300) }), { code: 'ERR_JWT_CLAIM_INVALID', description: 'The access token\'s "exp" is not a NumericDate.' }],
    ['exp past the year 9999', active({ exp: 1e20 }), { code: 'ERR_JWT_CLAIM_INVALID', description: 'The access token\'s "exp" is not a valid date (a NumericDate from 1970 to the year 9999).' }],
    ['nbf in the future beyond the tolerance', active({ nbf: NOW + 60 }), { code: 'ERR_JWT_NOT_YET_VALID', description: 'The access token is not valid yet (nbf).' }],
    ['nbf not a number', active({ nbf: 'yesterday' }), { code: 'ERR_JWT_CLAIM_INVALID', description: 'The access token\'s "nbf" is not a NumericDate.' }],
    ['iss of another issuer', active({ iss: 'https://evil.example.test' }), WRONG_ISSUER],
    ['iss with a trailing slash added', active({ iss: `${ISSUER}/` }), WRONG_ISSUER],
    ['iss null', active({ iss: null }), WRONG_ISSUER],
    ['aud missing', active({ aud: undefined }), WRONG_AUDIENCE],
    ['aud of another API', active({ aud: 'https://other.example.test' }), WRONG_AUDIENCE],
    ['aud an array without this API', active({ aud: ['https://other.example.test', 'https://third.example.test'] }), WRONG_AUDIENCE],
    ['aud an empty array', active({ aud: [] }), WRONG_AUDIENCE],
    ['aud a prefix of this API', active({ aud: AUDIENCE.slice(0, -1) }), WRONG_AUDIENCE],
    ['cnf with a DPoP key thumbprint', active({ cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' }, token_type: 'DPoP' }), BOUND],
    ['cnf with a certificate thumbprint', active({ cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } }), BOUND],
    ['token_type DPoP (sender-constrained) without cnf', active({ token_type: 'DPoP' }), BOUND],
    ['token_type refresh_token', active({ token_type: 'refresh_token' }), otherType('refresh_token')],
    ['token_type id_token', active({ token_type: 'id_token' }), otherType('id_token')]
  ]
  it.each(refused)('%s', (_name, answer, expected) => {
    expect(outcome(answer)).toEqual(expected)
  })
})

describe('answers accepted', () => {
  const accepted: Array<[string, Record<string, unknown>]> = [
    ['every member', active()],
    ['exp past but within the clock tolerance', active({ exp: NOW - 2 })],
    ['no exp', active({ exp: undefined })],
    ['no iss', active({ iss: undefined })],
    ['aud an array containing this API', active({ aud: ['https://other.example.test', AUDIENCE] })],
    ['nbf in the past', active({ nbf: NOW - 60 })],
    ['nbf slightly ahead, within the tolerance', active({ nbf: NOW + 2 })],
    ['token_type bearer in lower case', active({ token_type: 'bearer' })],
    ['no token_type', active({ token_type: undefined })],
    ['unknown extra members', active({ ext: { tenant: 't1' }, username: 'alice' })],
    ['iat in the future (not an answer rule)', active({ iat: NOW + 3600 })]
  ]
  it.each(accepted)('%s', (_name, answer) => {
    expect(outcome(answer)).toBe('accepted')
  })
})

describe('the identity of an accepted answer', () => {
  it('has the shape a JWT gives: sub, client_id, scope (space-separated, each once), the configured issuer, exp', () => {
    const identity = checkIntrospectionAnswer(active({ iss: undefined, scope: '  read:messages   profile read:messages ' }), rulesOf(), NOW)
    expect(identity).toMatchObject({ sub: 'user-1', clientId: 'test-client', scopes: ['read:messages', 'profile'], issuer: ISSUER, expiresAt: NOW + 300, format: 'opaque' })
  })

  it('leaves what the answer lacks undefined, and grants no scope without a scope string', () => {
    const identity = checkIntrospectionAnswer(active({ exp: undefined, sub: undefined, client_id: undefined, scope: undefined, scp: 'read:messages' }), rulesOf(), NOW)
    expect(identity).toMatchObject({ sub: undefined, clientId: undefined, scopes: [], expiresAt: undefined })
  })

  it('ignores the JWT-only provider rules: Auth0 permissions grant nothing here', () => {
    const identity = checkIntrospectionAnswer(active({ scope: 'a', permissions: ['b'] }), rulesOf({ provider: 'auth0' }), NOW)
    expect(identity.scopes).toEqual(['a'])
  })
})

describe('several audiences and AUTH_CLIENT_IDS', () => {
  const rules = rulesOf({ audiences: [AUDIENCE, 'urn:api:second'], clientIds: ['allowed-client', 'other-allowed'] })

  it('accepts any configured audience with an allowed client', () => {
    expect(outcome(active({ aud: 'urn:api:second', client_id: 'allowed-client' }), rules)).toBe('accepted')
    expect(outcome(active({ aud: ['x', AUDIENCE], client_id: 'other-allowed' }), rules)).toBe('accepted')
  })

  it('refuses a client not in the list, or no client_id at all (azp does not count here)', () => {
    const notAllowed = { code: 'ERR_CLIENT_NOT_ALLOWED', description: 'The access token was issued to a client this API does not accept.' }
    expect(outcome(active({ client_id: 'someone-else' }), rules)).toEqual(notAllowed)
    expect(outcome(active({ client_id: undefined }), rules)).toEqual(notAllowed)
    expect(outcome(active({ client_id: undefined, azp: 'allowed-client' }), rules)).toEqual(notAllowed)
  })
})
