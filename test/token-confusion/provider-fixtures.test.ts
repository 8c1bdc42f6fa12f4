/**
 * The provider fixture table (issue item 4): realistic access tokens and ID tokens of Auth0,
 * Okta, Entra ID v1/v2, Keycloak, Cognito and node-oidc-provider, signed by the test issuer.
 * Under the matching AUTH_PROVIDER preset every access token is accepted with its scopes and
 * every ID token is refused as an ID token; under `generic` no ID token gets through.
 *
 * Each ID token is tried against two configurations of the API:
 * - AUTH_AUDIENCE = the API only (the normal set-up): the ID token's `aud` is the client id;
 * - AUTH_AUDIENCE = the API and the client id (a shared or careless registration): the audience
 *   check passes, so only the classification can refuse the ID token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AUDIENCE, startTestApi, type TestApi } from '../helpers/test-api.js'
import { signJwt } from '../helpers/jwt-sign.js'
import {
  fixtureHeader,
  getFixture,
  providerFixtures,
  type FixtureContext,
  type ProviderFixture,
  type ProviderName,
  type ProviderPreset
} from '../fixtures/providers.js'

/** Client ids in each provider's own format. */
const CLIENT_IDS: Record<ProviderName, string> = {
  auth0: 'kF3xX9p2Qm7VnR4tL8sW1yZ6bC0dE5gH',
  okta: '0oa1b2c3d4e5f6g7h8i9',
  entra: '6e74172b-be56-4843-9ff4-e66a39bb12e3',
  keycloak: 'messages-spa',
  cognito: '1example23456789abcdefghij',
  'oidc-provider': 'demo-spa'
}

const PRESETS: ProviderPreset[] = ['generic', 'auth0', 'okta', 'entra', 'keycloak', 'cognito']
const ID_TOKEN = /An ID token was presented where an access token is required/
const NOT_ACCESS_TOKEN_CODES = ['ERR_ID_TOKEN_NOT_ACCESS_TOKEN', 'ERR_NOT_ACCESS_TOKEN']

type Audience = 'api' | 'api+clients'

function env(preset: ProviderPreset, audience: Audience, profile: 'auto' | 'rfc9068' = 'auto'): Record<string, string> {
  return {
    AUTH_PROVIDER: preset,
    AUTH_TOKEN_PROFILE: profile,
    AUTH_AUDIENCE: audience === 'api' ? AUDIENCE : [AUDIENCE, ...Object.values(CLIENT_IDS)].join(','),
    ...(preset === 'cognito' ? { AUTH_CLIENT_IDS: CLIENT_IDS.cognito } : {})
  }
}

const apis = new Map<string, TestApi>()
const key = (preset: ProviderPreset, audience: Audience, profile: 'auto' | 'rfc9068' = 'auto'): string => `${preset}/${audience}/${profile}`
function api(preset: ProviderPreset, audience: Audience, profile: 'auto' | 'rfc9068' = 'auto'): TestApi {
  const found = apis.get(key(preset, audience, profile))
  if (found === undefined) throw new Error(`no app for ${key(preset, audience, profile)}`)
  return found
}

beforeAll(async () => {
  const wanted: Array<[ProviderPreset, Audience, 'auto' | 'rfc9068']> = []
  for (const preset of PRESETS) for (const audience of ['api', 'api+clients'] as const) wanted.push([preset, audience, 'auto'])
  for (const preset of ['generic', 'auth0'] as const) wanted.push([preset, 'api', 'rfc9068'])
  await Promise.all(
    wanted.map(async ([preset, audience, profile]) => {
      apis.set(key(preset, audience, profile), await startTestApi({ env: env(preset, audience, profile) }))
    })
  )
})
afterAll(async () => {
  await Promise.all([...apis.values()].map((each) => each.close()))
})

function context(t: TestApi, fixture: ProviderFixture): FixtureContext {
  return { issuer: t.issuer.url, audience: AUDIENCE, clientId: CLIENT_IDS[fixture.provider], now: t.now() }
}

/** Signs the fixture's claims with the test issuer's key and the provider's header. */
function mint(
  t: TestApi,
  fixture: ProviderFixture,
  edit: (claims: Record<string, unknown>) => Record<string, unknown> = (c) => c
): { token: string; claims: Record<string, unknown> } {
  const claims = edit(fixture.claims(context(t, fixture)))
  return { token: signJwt(t.key, claims, fixtureHeader(fixture)), claims }
}

interface Answer {
  status: number
  body: Record<string, unknown>
  error: string | undefined
  description: string | undefined
}

async function get(t: TestApi, url: string, token: string): Promise<Answer> {
  const res = await t.app.inject({ url, headers: { authorization: `Bearer ${token}` } })
  const www = String(res.headers['www-authenticate'] ?? '')
  return {
    status: res.statusCode,
    body: res.json<Record<string, unknown>>(),
    error: /\berror="([^"]*)"/.exec(www)?.[1],
    description: /\berror_description="([^"]*)"/.exec(www)?.[1]
  }
}

function expectIdTokenRefusal(answer: Answer): void {
  expect(answer.status, String(answer.body.detail)).toBe(401)
  expect(answer.error).toBe('invalid_token')
  expect(answer.description).toMatch(ID_TOKEN)
  expect(answer.body.detail).toMatch(ID_TOKEN)
  expect(answer.body.code).toBe('ERR_ID_TOKEN_NOT_ACCESS_TOKEN')
}

const accessFixtures = (preset: ProviderPreset): ProviderFixture[] =>
  providerFixtures.filter((f) => f.kind === 'access' && f.preset === preset)
const idFixtures = (preset: ProviderPreset): ProviderFixture[] => providerFixtures.filter((f) => f.kind === 'id' && f.preset === preset)

it('the table covers every provider, with access and ID tokens of each', () => {
  for (const provider of Object.keys(CLIENT_IDS)) {
    const kinds = new Set(providerFixtures.filter((f) => f.provider === provider).map((f) => f.kind))
    expect([...kinds].sort(), provider).toEqual(['access', 'id'])
  }
  expect(providerFixtures.filter((f) => f.kind === 'access').every((f) => (f.scopes ?? []).length > 0)).toBe(true)
})

describe.each(PRESETS)('AUTH_PROVIDER=%s', (preset) => {
  const access = accessFixtures(preset)
  const ids = idFixtures(preset)

  it.each(access.map((f) => [f.name, f] as const))('accepts %s with its scopes', async (_name, fixture) => {
    for (const audience of ['api', 'api+clients'] as const) {
      const t = api(preset, audience)
      const { token, claims } = mint(t, fixture)
      const me = await get(t, '/api/me', token)
      expect(me.status, `${audience}: ${String(me.body.code)} ${String(me.body.detail)}`).toBe(200)
      expect(me.body.sub).toBe(claims.sub)
      expect(me.body.clientId).toBe(CLIENT_IDS[fixture.provider])
      expect(me.body.issuer).toBe(t.issuer.url)
      expect(me.body.scopes).toEqual(expect.arrayContaining(fixture.scopes ?? []))
      if ((me.body.scopes as string[]).includes('read:messages')) {
        const messages = await get(t, '/api/messages', token)
        expect(messages.status).toBe(200)
        expect(messages.body).toEqual(expect.any(Array))
      }
    }
  })

  if (ids.length > 0) {
    it.each(ids.map((f) => [f.name, f] as const))('refuses %s as an ID token, its aud the client id', async (_name, fixture) => {
      const t = api(preset, 'api')
      expectIdTokenRefusal(await get(t, '/api/me', mint(t, fixture).token))
    })

    it.each(ids.map((f) => [f.name, f] as const))(
      'refuses %s as an ID token when the API also accepts the client id as audience',
      async (_name, fixture) => {
        const t = api(preset, 'api+clients')
        expectIdTokenRefusal(await get(t, '/api/me', mint(t, fixture).token))
      }
    )
  }

  it.each(providerFixtures.filter((f) => f.kind === 'id').map((f) => [f.name, f] as const))(
    'lets no ID token through: %s',
    async (_name, fixture) => {
      for (const audience of ['api', 'api+clients'] as const) {
        const t = api(preset, audience)
        const answer = await get(t, '/api/me', mint(t, fixture).token)
        expect(answer.status, `${audience}: ${String(answer.body.code)}`).toBe(401)
        expect(answer.error).toBe('invalid_token')
        // once the audience passes, what refuses an ID token is the classification
        if (audience === 'api+clients' && preset !== 'cognito') expect(NOT_ACCESS_TOKEN_CODES).toContain(answer.body.code)
      }
    }
  )
})

describe('Entra ID with one app registration for the SPA and the API', () => {
  const fixture = getFixture('entra-v2-id-shared-registration')

  it('its ID token carries this API as aud, so the audience check cannot tell it from an access token', () => {
    expect(fixture.claims({ issuer: 'https://issuer.example', audience: AUDIENCE, clientId: CLIENT_IDS.entra, now: 0 }).aud).toBe(AUDIENCE)
  })

  it('is refused under entra as an ID token', async () => {
    const t = api('entra', 'api')
    expectIdTokenRefusal(await get(t, '/api/me', mint(t, fixture).token))
  })

  it('is refused by the Entra marker rule alone (no nonce: the code flow does not require one)', async () => {
    const t = api('entra', 'api')
    const { token } = mint(t, fixture, ({ nonce: _nonce, ...claims }) => claims)
    const answer = await get(t, '/api/me', token)
    expectIdTokenRefusal(answer)
    expect(answer.body.detail).toMatch(/"azp"\/"appid" with "scp" or "roles"/)
  })

  it('the marker is what separates it: with azp and scp the same claims are an access token', async () => {
    const t = api('entra', 'api')
    const { token } = mint(t, fixture, ({ nonce: _nonce, ...claims }) => ({ ...claims, azp: CLIENT_IDS.entra, scp: 'read:messages' }))
    expect((await get(t, '/api/me', token)).status).toBe(200)
  })

  it('an Entra ID token carrying app roles (assigned to the user) is still refused: no azp', async () => {
    const t = api('entra', 'api')
    const { token } = mint(t, fixture, ({ nonce: _nonce, ...claims }) => ({ ...claims, roles: ['write:messages'] }))
    expectIdTokenRefusal(await get(t, '/api/me', token))
  })
})

describe('AUTH_TOKEN_PROFILE=rfc9068 over the fixtures', () => {
  const rfc9068Shaped = (f: ProviderFixture): boolean => f.kind === 'access' && f.header.typ === 'at+jwt'

  it.each([
    ['generic', getFixture('oidc-provider-access')],
    ['auth0', getFixture('auth0-access-rfc9068')]
  ] as const)('accepts the RFC 9068 access token under %s', async (preset, fixture) => {
    const t = api(preset, 'api', 'rfc9068')
    const { token } = mint(t, fixture)
    const me = await get(t, '/api/me', token)
    expect(me.status, String(me.body.detail)).toBe(200)
    expect(me.body.scopes).toEqual(expect.arrayContaining(fixture.scopes ?? []))
  })

  it.each(
    providerFixtures.filter((f) => f.kind === 'access' && !rfc9068Shaped(f) && f.preset !== 'cognito').map((f) => [f.name, f] as const)
  )('refuses %s: not typ at+jwt', async (_name, fixture) => {
    const t = api('generic', 'api', 'rfc9068')
    const answer = await get(t, '/api/me', mint(t, fixture).token)
    expect(answer.status).toBe(401)
    expect(answer.error).toBe('invalid_token')
    // typ JWT or none; most of them lack client_id or jti as well
    expect(['ERR_JWT_TYPE_INVALID', 'ERR_JWT_CLAIM_MISSING']).toContain(answer.body.code)
  })

  it.each(providerFixtures.filter((f) => f.kind === 'id').map((f) => [f.name, f] as const))(
    'refuses the ID token %s',
    async (_name, fixture) => {
      for (const preset of ['generic', 'auth0'] as const) {
        const t = api(preset, 'api', 'rfc9068')
        const answer = await get(t, '/api/me', mint(t, fixture).token)
        expect(answer.status).toBe(401)
        expect(answer.error).toBe('invalid_token')
      }
    }
  )
})
