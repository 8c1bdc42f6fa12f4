/**
 * The introspection-answer rules (checkIntrospectionAnswer, src/token/access-token-claims.ts)
 * on plain objects: the answers test/introspection/answer.test.ts sends through the gate, here
 * without an issuer or an app, each with the refusal code and sentence a client gets.
 */
import { describe, expect, it } from 'vitest'
import type { AuthConfig } from '../../src/config.js'
import { isAuthError } from '../../src/errors.js'
import { checkIntrospectionAnswer, claimRulesFor } from '../../src/token/access-token-claims.js'
import { activeAnswer } from '../helpers/introspection.js'

const ISSUER = 'https://issuer.example.test'
const AUDIENCE = 'https://api.example.test'
const NOW = 1_700_000_000

function rulesOf(overrides: Partial<AuthConfig> = {}): ReturnType<typeof claimRulesFor> {
  const auth = {
    audiences: [AUDIENCE],
    clockTolerance: 5,
    clientIds: [],
    provider: 'generic',
    profile: 'auto',
    ...overrides
  } as unknown as AuthConfig
  return claimRulesFor(auth, ISSUER)
}

/** The claims of a valid access token at NOW. */
const VALID = {
  iss: ISSUER,
  aud: AUDIENCE,
  sub: 'user-1',
  client_id: 'test-client',
  scope: 'read:messages write:messages',
  exp: NOW + 300,
  iat: NOW - 10
}

function outcome(answer: Record<string, unknown>, rules = rulesOf()): { code: string; description: string } | 'accepted' {
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
const WRONG_ISSUER = { code: 'ERR_JWT_ISSUER_INVALID', description: 'The access token was not issued by an issuer this API trusts.' }
const WRONG_AUDIENCE = {
  code: 'ERR_JWT_AUDIENCE_INVALID',
  description: 'The access token is not meant for this API (its audience does not name this API).'
}
const otherType = (type: string): { code: string; description: string } => ({
  code: 'ERR_NOT_ACCESS_TOKEN',
  description: `A token of type "${type}" was presented where an access token is required; send the access token instead.`
})

describe('key-bound answers: accepted here with their binding, which the gate holds against the scheme', () => {
  it.each([
    [
      'cnf with a DPoP key thumbprint',
      { cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' }, token_type: 'DPoP' },
      '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I'
    ],
    ['cnf with a certificate thumbprint', { cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } }, undefined],
    ['token_type DPoP (sender-constrained) without cnf', { token_type: 'DPoP' }, undefined]
  ])('%s', (_name, members, jkt) => {
    expect(checkIntrospectionAnswer(activeAnswer(VALID, members), rulesOf(), NOW).binding).toEqual({ jkt })
  })

  it('an answer without cnf or token_type DPoP is not bound', () => {
    expect(checkIntrospectionAnswer(activeAnswer(VALID), rulesOf(), NOW).binding).toBeUndefined()
  })
})

describe('answers refused', () => {
  const refused: Array<[string, Record<string, unknown>, { code: string; description: string }]> = [
    ['active false', { active: false }, INACTIVE],
    ['active false with every other member', activeAnswer(VALID, { active: false }), INACTIVE],
    ['active missing', activeAnswer(VALID, { active: undefined }), INACTIVE],
    ['active "true" (a string)', activeAnswer(VALID, { active: 'true' }), INACTIVE],
    ['active 1', activeAnswer(VALID, { active: 1 }), INACTIVE],
    ['exp past beyond the tolerance', activeAnswer(VALID, { exp: NOW - 6 }), EXPIRED],
    ['exp long past', activeAnswer(VALID, { exp: NOW - 3600 }), EXPIRED],
    [
      'exp not a number',
      activeAnswer(VALID, { exp: String(NOW + 300) }),
      { code: 'ERR_JWT_CLAIM_INVALID', description: 'The access token\'s "exp" is not a NumericDate.' }
    ],
    [
      'exp past the year 9999',
      activeAnswer(VALID, { exp: 1e20 }),
      {
        code: 'ERR_JWT_CLAIM_INVALID',
        description: 'The access token\'s "exp" is not a valid date (a NumericDate from 1970 to the year 9999).'
      }
    ],
    [
      'nbf in the future beyond the tolerance',
      activeAnswer(VALID, { nbf: NOW + 60 }),
      { code: 'ERR_JWT_NOT_YET_VALID', description: 'The access token is not valid yet (nbf).' }
    ],
    [
      'nbf not a number',
      activeAnswer(VALID, { nbf: 'yesterday' }),
      { code: 'ERR_JWT_CLAIM_INVALID', description: 'The access token\'s "nbf" is not a NumericDate.' }
    ],
    ['iss of another issuer', activeAnswer(VALID, { iss: 'https://evil.example.test' }), WRONG_ISSUER],
    ['iss with a trailing slash added', activeAnswer(VALID, { iss: `${ISSUER}/` }), WRONG_ISSUER],
    ['iss null', activeAnswer(VALID, { iss: null }), WRONG_ISSUER],
    ['aud missing', activeAnswer(VALID, { aud: undefined }), WRONG_AUDIENCE],
    ['aud of another API', activeAnswer(VALID, { aud: 'https://other.example.test' }), WRONG_AUDIENCE],
    [
      'aud an array without this API',
      activeAnswer(VALID, { aud: ['https://other.example.test', 'https://third.example.test'] }),
      WRONG_AUDIENCE
    ],
    ['aud an empty array', activeAnswer(VALID, { aud: [] }), WRONG_AUDIENCE],
    ['aud a prefix of this API', activeAnswer(VALID, { aud: AUDIENCE.slice(0, -1) }), WRONG_AUDIENCE],
    ['token_type refresh_token', activeAnswer(VALID, { token_type: 'refresh_token' }), otherType('refresh_token')],
    ['token_type id_token', activeAnswer(VALID, { token_type: 'id_token' }), otherType('id_token')]
  ]
  it.each(refused)('%s', (_name, answer, expected) => {
    expect(outcome(answer)).toEqual(expected)
  })
})

describe('answers accepted', () => {
  const accepted: Array<[string, Record<string, unknown>]> = [
    ['every member', activeAnswer(VALID)],
    ['exp past but within the clock tolerance', activeAnswer(VALID, { exp: NOW - 2 })],
    ['no exp', activeAnswer(VALID, { exp: undefined })],
    ['no iss', activeAnswer(VALID, { iss: undefined })],
    ['aud an array containing this API', activeAnswer(VALID, { aud: ['https://other.example.test', AUDIENCE] })],
    ['nbf in the past', activeAnswer(VALID, { nbf: NOW - 60 })],
    ['nbf slightly ahead, within the tolerance', activeAnswer(VALID, { nbf: NOW + 2 })],
    ['token_type bearer in lower case', activeAnswer(VALID, { token_type: 'bearer' })],
    ['no token_type', activeAnswer(VALID, { token_type: undefined })],
    ['unknown extra members', activeAnswer(VALID, { ext: { tenant: 't1' }, username: 'alice' })],
    ['iat in the future (not an answer rule)', activeAnswer(VALID, { iat: NOW + 3600 })]
  ]
  it.each(accepted)('%s', (_name, answer) => {
    expect(outcome(answer)).toBe('accepted')
  })
})

describe('the identity of an accepted answer', () => {
  it('has the shape a JWT gives: sub, client_id, scope (space-separated, each once), the configured issuer, exp', () => {
    const identity = checkIntrospectionAnswer(
      activeAnswer(VALID, { iss: undefined, scope: '  read:messages   profile read:messages ' }),
      rulesOf(),
      NOW
    )
    expect(identity).toMatchObject({
      sub: 'user-1',
      clientId: 'test-client',
      scopes: ['read:messages', 'profile'],
      issuer: ISSUER,
      expiresAt: NOW + 300,
      format: 'opaque'
    })
  })

  it('leaves what the answer lacks undefined, and grants no scope without a scope string', () => {
    const identity = checkIntrospectionAnswer(
      activeAnswer(VALID, { exp: undefined, sub: undefined, client_id: undefined, scope: undefined, scp: 'read:messages' }),
      rulesOf(),
      NOW
    )
    expect(identity).toMatchObject({ sub: undefined, clientId: undefined, scopes: [], expiresAt: undefined })
  })

  it('ignores the JWT-only provider rules: Auth0 permissions grant nothing here', () => {
    const identity = checkIntrospectionAnswer(activeAnswer(VALID, { scope: 'a', permissions: ['b'] }), rulesOf({ provider: 'auth0' }), NOW)
    expect(identity.scopes).toEqual(['a'])
  })
})

describe('several audiences and AUTH_CLIENT_IDS', () => {
  const rules = rulesOf({ audiences: [AUDIENCE, 'urn:api:second'], clientIds: ['allowed-client', 'other-allowed'] })

  it('accepts any configured audience with an allowed client', () => {
    expect(outcome(activeAnswer(VALID, { aud: 'urn:api:second', client_id: 'allowed-client' }), rules)).toBe('accepted')
    expect(outcome(activeAnswer(VALID, { aud: ['x', AUDIENCE], client_id: 'other-allowed' }), rules)).toBe('accepted')
  })

  it('refuses a client not in the list, or no client_id at all (azp does not count here)', () => {
    const notAllowed = { code: 'ERR_CLIENT_NOT_ALLOWED', description: 'The access token was issued to a client this API does not accept.' }
    expect(outcome(activeAnswer(VALID, { client_id: 'someone-else' }), rules)).toEqual(notAllowed)
    expect(outcome(activeAnswer(VALID, { client_id: undefined }), rules)).toEqual(notAllowed)
    expect(outcome(activeAnswer(VALID, { client_id: undefined, azp: 'allowed-client' }), rules)).toEqual(notAllowed)
  })
})
