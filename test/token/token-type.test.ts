/**
 * The token-type rules of src/token/token-type.ts on plain objects: after its signature and
 * claims, a JWT is refused as not an access token for its header `typ`, for claims only ID
 * tokens carry, for a provider's marker, or (rfc9068) for a missing `typ: at+jwt`. Each rule
 * alone; test/token-confusion shows them through the gate with real providers' tokens.
 */
import { describe, expect, it } from 'vitest'
import type { ProviderPreset, TokenProfile } from '../../src/config.js'
import { isAuthError } from '../../src/errors.js'
import { normaliseTyp } from '../../src/token/jws-header.js'
import { PROVIDER_RULES } from '../../src/token/providers.js'
import { checkAccessToken, notAnAccessToken } from '../../src/token/token-type.js'

const ID_TOKEN =
  'An ID token was presented where an access token is required. The ID token tells the app who the user is and is never sent to an API; send the access token instead.'

function rules(profile: TokenProfile = 'auto', provider: ProviderPreset = 'generic'): Parameters<typeof checkAccessToken>[2] {
  return { profile, provider: PROVIDER_RULES[provider] }
}

function refusal(
  typ: string | undefined,
  payload: Record<string, unknown>,
  ruleSet = rules()
): { code: string; description: string } | undefined {
  try {
    checkAccessToken(typ, payload, ruleSet)
  } catch (error) {
    if (!isAuthError(error)) throw error
    return { code: error.code, description: error.description }
  }
  return undefined
}

describe('the header typ', () => {
  it.each([undefined, 'at+jwt', 'jwt'])('%s passes', (typ) => {
    expect(refusal(typ, {})).toBeUndefined()
  })

  it('is compared normalised: case-insensitive, application/ prefix optional', () => {
    expect(normaliseTyp('Application/AT+JWT')).toBe('at+jwt')
    expect(refusal(normaliseTyp('application/at+jwt'), {})).toBeUndefined()
  })

  it.each(['id_token+jwt', 'id_token', 'id+jwt'])('%s is an ID token', (typ) => {
    expect(refusal(typ, {})).toEqual({ code: 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', description: ID_TOKEN })
  })

  it.each([
    ['dpop+jwt', 'A DPoP proof (typ dpop+jwt)'],
    ['logout+jwt', 'A logout token (typ logout+jwt)'],
    ['secevent+jwt', 'A security event token (typ secevent+jwt)'],
    ['token-introspection+jwt', 'An introspection response (typ token-introspection+jwt)'],
    ['example+jwt', 'A token of type "example+jwt"'],
    ['constructor', 'A token of type "constructor"'],
    ['__proto__', 'A token of type "__proto__"']
  ])('%s is another kind of token, named as such', (typ, name) => {
    expect(refusal(typ, {})).toEqual({
      code: 'ERR_NOT_ACCESS_TOKEN',
      description: `${name} was presented where an access token is required; send the access token instead.`
    })
  })

  it('a long unknown typ is cut in the sentence', () => {
    expect(refusal(`x${'y'.repeat(100)}`, {})?.description).toBe(
      `A token of type "x${'y'.repeat(39)}" was presented where an access token is required; send the access token instead.`
    )
  })
})

describe('provider markers in the payload', () => {
  it('Cognito token_use: access passes, id is an ID token, anything else another token', () => {
    expect(refusal(undefined, { token_use: 'access' })).toBeUndefined()
    expect(refusal(undefined, { token_use: 'id' })?.code).toBe('ERR_ID_TOKEN_NOT_ACCESS_TOKEN')
    expect(refusal(undefined, { token_use: 'refresh' })?.description).toBe(
      'A token with token_use "refresh" was presented where an access token is required; send the access token instead.'
    )
    expect(refusal(undefined, { token_use: { nested: 'x'.repeat(40) } })?.description).toMatch(
      /^A token with token_use "\{"nested":"xxxxxxxxx" was presented/
    )
  })

  it('Keycloak payload typ: Bearer passes, ID is an ID token, Refresh and Logout are named, others quoted', () => {
    expect(refusal(undefined, { typ: 'Bearer' })).toBeUndefined()
    expect(refusal(undefined, { typ: 'ID' })?.code).toBe('ERR_ID_TOKEN_NOT_ACCESS_TOKEN')
    expect(refusal(undefined, { typ: 'Refresh' })?.description).toMatch(/^A refresh token was presented/)
    expect(refusal(undefined, { typ: 'Logout' })?.description).toMatch(/^A logout token was presented/)
    expect(refusal(undefined, { typ: 'Offline' })?.description).toMatch(/^A token with "typ" claim "Offline" was presented/)
    expect(refusal(undefined, { typ: 5 })?.description).toMatch(/^A token with "typ" claim "5" was presented/)
  })

  it('a payload typ at+jwt passes only with the header typ at+jwt', () => {
    expect(refusal('at+jwt', { typ: 'at+jwt' })).toBeUndefined()
    expect(refusal(undefined, { typ: 'at+jwt' })?.code).toBe('ERR_NOT_ACCESS_TOKEN')
  })
})

describe('claims only ID tokens carry', () => {
  it.each(['at_hash', 'c_hash', 's_hash'])('%s makes an ID token, whatever the markers', (claim) => {
    expect(refusal('at+jwt', { [claim]: 'x' })?.code).toBe('ERR_ID_TOKEN_NOT_ACCESS_TOKEN')
  })

  it('nonce makes an ID token, unless an access-token marker says otherwise', () => {
    expect(refusal(undefined, { nonce: 'n' })?.code).toBe('ERR_ID_TOKEN_NOT_ACCESS_TOKEN')
    expect(refusal('at+jwt', { nonce: 'n' })).toBeUndefined()
    expect(refusal(undefined, { nonce: 'n', typ: 'Bearer' })).toBeUndefined()
    expect(refusal(undefined, { nonce: 'n', token_use: 'access' })).toBeUndefined()
  })
})

describe('the rfc9068 profile', () => {
  it('requires the header typ at+jwt', () => {
    expect(refusal('at+jwt', {}, rules('rfc9068'))).toBeUndefined()
    expect(refusal(undefined, {}, rules('rfc9068'))).toEqual({
      code: 'ERR_JWT_TYPE_INVALID',
      description:
        'A token whose header "typ" is absent was presented where an access token is required: this API accepts only RFC 9068 access tokens, whose header "typ" is "at+jwt" (is it an ID token?).'
    })
    expect(refusal('jwt', {}, rules('rfc9068'))?.description).toMatch(/^A token whose header "typ" is "jwt" was presented/)
  })

  it('still names an ID token as one', () => {
    expect(refusal(undefined, { nonce: 'n' }, rules('rfc9068'))?.code).toBe('ERR_ID_TOKEN_NOT_ACCESS_TOKEN')
  })
})

describe("the provider's access-token marker", () => {
  it.each([
    ['okta', { cid: 'app' }, {}, 'it has no "cid" claim, which every Okta access token carries'],
    [
      'entra',
      { azp: 'app', scp: 'read' },
      { azp: 'app' },
      'it lacks "azp"/"appid" with "scp" or "roles", which every Entra ID access token carries'
    ],
    ['keycloak', { typ: 'Bearer' }, {}, 'its "typ" claim is neither "Bearer" nor "DPoP", as in every Keycloak access token'],
    ['cognito', { token_use: 'access' }, {}, 'its "token_use" claim is not "access"']
  ] as const)(
    '%s: with it the token passes; without it, it is an ID token and the sentence says what is missing',
    (provider, marked, unmarked, missing) => {
      expect(refusal(undefined, marked, rules('auto', provider))).toBeUndefined()
      expect(refusal(undefined, unmarked, rules('auto', provider))).toEqual({
        code: 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN',
        description: `${ID_TOKEN} (This token is not an access token: ${missing}.)`
      })
    }
  )

  it('generic and auth0 have none', () => {
    expect(refusal(undefined, {}, rules('auto', 'generic'))).toBeUndefined()
    expect(refusal(undefined, {}, rules('auto', 'auth0'))).toBeUndefined()
  })
})

describe('a key binding is not a token-type rule', () => {
  it('cnf passes here (checkSenderConstraint refuses it next)', () => {
    expect(refusal('at+jwt', { cnf: { jkt: 'x' } })).toBeUndefined()
  })
})

describe('notAnAccessToken', () => {
  it('gives the ID-token or other-token refusal, and nothing for any other', () => {
    expect(notAnAccessToken(undefined, { nonce: 'n' }, rules())?.code).toBe('ERR_ID_TOKEN_NOT_ACCESS_TOKEN')
    expect(notAnAccessToken('dpop+jwt', {}, rules())?.code).toBe('ERR_NOT_ACCESS_TOKEN')
    expect(notAnAccessToken(undefined, {}, rules())).toBeUndefined()
    expect(notAnAccessToken(undefined, {}, rules('rfc9068'))).toBeUndefined()
  })
})
