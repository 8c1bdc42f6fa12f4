/**
 * Every verification rule of the core issue, valid and invalid, as one table of tokens
 * made at test time and sent through the whole app.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeKey } from '../helpers/keys.js'
import { b64url, publicPem, signJwt, signRaw, tamper, unsignedJwt } from '../helpers/jwt-sign.js'
import { AUDIENCE, startTestApi, type TestApi } from '../helpers/test-api.js'

interface Case {
  name: string
  token: (api: TestApi) => string
  status: number
  code?: string
}

const stranger = makeKey('RS256', { fresh: true, kid: 'stranger' })

const cases: Case[] = [
  { name: 'valid RS256 token', token: (api) => api.token(), status: 200 },
  { name: 'valid PS256 token', token: (api) => api.token({}, {}, api.keys[1]), status: 200 },
  { name: 'valid ES256 token', token: (api) => api.token({}, {}, api.keys[2]), status: 200 },
  { name: 'valid EdDSA token', token: (api) => api.token({}, {}, api.keys[3]), status: 200 },
  { name: 'aud as an array containing ours', token: (api) => api.token({ aud: ['https://other.example', AUDIENCE] }), status: 200 },
  { name: 'second configured audience', token: (api) => api.token({ aud: 'urn:second-api' }), status: 200 },
  { name: 'exp within the leeway', token: (api) => api.token({ exp: api.now() - 3 }), status: 200 },
  { name: 'nbf within the leeway', token: (api) => api.token({ nbf: api.now() + 3 }), status: 200 },
  { name: 'iat within the leeway', token: (api) => api.token({ iat: api.now() + 3 }), status: 200 },
  { name: 'no kid, one key fits the alg', token: (api) => api.token({}, { kid: undefined }, api.keys[2]), status: 200 },
  { name: 'no typ header', token: (api) => api.token({}, { typ: undefined }), status: 200 },

  { name: 'expired beyond the leeway', token: (api) => api.token({ exp: api.now() - 10 }), status: 401, code: 'ERR_JWT_EXPIRED' },
  { name: 'nbf in the future', token: (api) => api.token({ nbf: api.now() + 60 }), status: 401, code: 'ERR_JWT_NOT_YET_VALID' },
  { name: 'iat in the future', token: (api) => api.token({ iat: api.now() + 60 }), status: 401, code: 'ERR_JWT_ISSUED_IN_FUTURE' },
  { name: 'no exp', token: (api) => api.token({ exp: undefined }), status: 401, code: 'ERR_JWT_CLAIM_MISSING' },
  { name: 'no iss', token: (api) => api.token({ iss: undefined }), status: 401, code: 'ERR_JWT_CLAIM_MISSING' },
  { name: 'no aud', token: (api) => api.token({ aud: undefined }), status: 401, code: 'ERR_JWT_CLAIM_MISSING' },
  { name: 'exp as a string', token: (api) => api.token({ exp: String(api.now() + 300) }), status: 401, code: 'ERR_JWT_CLAIM_INVALID' },
  { name: 'aud as a number', token: (api) => api.token({ aud: 42 }), status: 401, code: 'ERR_JWT_CLAIM_INVALID' },
  { name: 'wrong issuer', token: (api) => api.token({ iss: 'https://evil.example' }), status: 401, code: 'ERR_JWT_ISSUER_INVALID' },
  {
    name: 'issuer with a trailing slash added',
    token: (api) => api.token({ iss: `${api.issuer.url}/` }),
    status: 401,
    code: 'ERR_JWT_ISSUER_INVALID'
  },
  { name: 'wrong audience', token: (api) => api.token({ aud: 'https://other.example' }), status: 401, code: 'ERR_JWT_AUDIENCE_INVALID' },
  {
    name: 'audience differing by a slash',
    token: (api) => api.token({ aud: `${AUDIENCE}/` }),
    status: 401,
    code: 'ERR_JWT_AUDIENCE_INVALID'
  },
  { name: 'tampered payload', token: (api) => tamper(api.token(), 'payload'), status: 401, code: 'ERR_JWS_SIGNATURE_INVALID' },
  { name: 'tampered signature', token: (api) => tamper(api.token(), 'signature'), status: 401, code: 'ERR_JWS_SIGNATURE_INVALID' },
  {
    name: 'signed by a key the issuer does not publish, same kid',
    token: (api) => api.token({}, { kid: api.key.kid }, stranger),
    status: 401,
    code: 'ERR_JWS_SIGNATURE_INVALID'
  },
  { name: 'unknown kid', token: (api) => api.token({}, {}, stranger), status: 401, code: 'ERR_JWKS_NO_MATCHING_KEY' },
  {
    name: 'alg none',
    token: (api) => unsignedJwt({ alg: 'none', typ: 'at+jwt' }, api.claims()),
    status: 401,
    code: 'ERR_JWS_SIGNATURE_INVALID'
  },
  {
    name: 'alg none with a signature',
    token: (api) => `${unsignedJwt({ alg: 'none' }, api.claims())}AAAA`,
    status: 401,
    code: 'ERR_JWS_ALG_NOT_ALLOWED'
  },
  {
    name: 'HS256 with the public key as secret (alg confusion)',
    token: (api) => signJwt({ secret: publicPem(api.key.publicKey), alg: 'HS256' }, api.claims(), { kid: api.key.kid }),
    status: 401,
    code: 'ERR_JWS_ALG_NOT_ALLOWED'
  },
  {
    name: 'alg not in AUTH_ALGORITHMS (RS384)',
    token: (api) => signJwt(makeKey('RS384', { kid: api.key.kid }), api.claims(), { alg: 'RS384' }),
    status: 401,
    code: 'ERR_JWS_ALG_NOT_ALLOWED'
  },
  {
    name: "header alg differs from the key's alg",
    token: (api) =>
      signRaw(api.keys[2] as never, JSON.stringify({ alg: 'RS256', kid: api.keys[2]?.kid }), JSON.stringify(api.claims()), 'ES256'),
    status: 401,
    code: 'ERR_JWKS_NO_MATCHING_KEY'
  },
  {
    name: 'unknown crit extension',
    token: (api) => api.token({}, { crit: ['exp-ext'], 'exp-ext': 1 }),
    status: 401,
    code: 'ERR_JWS_CRIT_UNSUPPORTED'
  },
  { name: 'kid as an array', token: (api) => api.token({}, { kid: [api.key.kid] }), status: 401, code: 'ERR_TOKEN_MALFORMED' },
  {
    name: 'jku pointing elsewhere is never used',
    token: (api) => api.token({}, { jku: 'http://127.0.0.1:1/jwks', kid: 'stranger' }, stranger),
    status: 401,
    code: 'ERR_JWKS_NO_MATCHING_KEY'
  },
  {
    name: 'embedded jwk is never used',
    token: (api) => api.token({}, { jwk: stranger.publicJwk, kid: undefined }, stranger),
    status: 401,
    code: 'ERR_JWS_SIGNATURE_INVALID'
  },
  {
    name: 'duplicate claim names',
    token: (api) =>
      signRaw(
        api.key,
        JSON.stringify({ alg: 'RS256', kid: api.key.kid, typ: 'at+jwt' }),
        JSON.stringify(api.claims()).replace(/^\{/, '{"sub":"admin",')
      ),
    status: 401,
    code: 'ERR_TOKEN_MALFORMED'
  },
  {
    name: 'payload is a JSON array',
    token: (api) => signRaw(api.key, JSON.stringify({ alg: 'RS256', kid: api.key.kid }), '[1,2]'),
    status: 401,
    code: 'ERR_TOKEN_MALFORMED'
  },
  {
    name: 'padded base64url',
    token: (api) => {
      const [h, p, s] = api.token().split('.')
      return `${h}.${p}=.${s}`
    },
    status: 401,
    code: 'ERR_TOKEN_MALFORMED'
  },
  {
    name: 'base64 (not url) characters',
    token: (api) => {
      const [h, p, s] = api.token().split('.')
      return `${h}.${p}.${(s ?? '').replace(/-|_/g, '+')}+/`
    },
    status: 401,
    code: 'ERR_TOKEN_MALFORMED'
  },
  { name: 'two segments only', token: (api) => api.token().split('.').slice(0, 2).join('.'), status: 401, code: 'ERR_TOKEN_NOT_JWT' },
  { name: 'header not JSON', token: () => `eyJub3QganNvbg.${b64url('{}')}.c2ln`, status: 401, code: 'ERR_TOKEN_MALFORMED' },
  { name: 'not a JWT at all', token: () => 'opaque-token-value', status: 401, code: 'ERR_TOKEN_NOT_JWT' },
  { name: 'oversized token', token: () => `eyJ${'a'.repeat(13_000)}.a.b`, status: 401, code: 'ERR_TOKEN_TOO_LARGE' }
]

describe('token rules (core)', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi({ algs: ['RS256', 'PS256', 'ES256', 'EdDSA'], env: { AUTH_AUDIENCE: `${AUDIENCE},urn:second-api` } })
  })
  afterAll(async () => {
    await api.close()
  })

  it.each(cases)('$name → $status $code', async ({ token, status, code }) => {
    const value = token(api)
    const res = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${value}` } })
    expect(res.statusCode, res.body).toBe(status)
    if (status === 200) {
      expect(res.json()).toMatchObject({ sub: 'user-1', issuer: api.issuer.url })
      return
    }
    const body = res.json()
    expect(body.code).toBe(code)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.headers['www-authenticate']).toMatch(
      /^Bearer realm="[^"]+", error="invalid_token", error_description="[^"]+", resource_metadata="https:\/\/api\.example\.test\/\.well-known\/oauth-protected-resource", DPoP algs="[^"]+", resource_metadata="[^"]+"$/
    )
    // the token never comes back
    expect(res.body).not.toContain(value.slice(0, 60))
    expect(res.headers['www-authenticate']).not.toContain(value.slice(0, 60))
  })

  it('does not accept HS256 even with a correct HMAC when no secret is configured', async () => {
    const token = signJwt({ secret: 'x'.repeat(32), alg: 'HS256' }, api.claims())
    const res = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
    expect(res.statusCode).toBe(401)
    expect(res.json().code).toBe('ERR_JWS_ALG_NOT_ALLOWED')
  })
})

describe('HS256 with a configured shared secret', () => {
  const secret = 's'.repeat(40)
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi({ env: { AUTH_HS_SECRET: secret, AUTH_ALGORITHMS: 'HS256,RS256' } })
  })
  afterAll(async () => {
    await api.close()
  })

  it('accepts a token signed with the secret and refuses another secret', async () => {
    const good = signJwt({ secret, alg: 'HS256' }, api.claims())
    const bad = signJwt({ secret: 't'.repeat(40), alg: 'HS256' }, api.claims())
    expect((await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${good}` } })).statusCode).toBe(200)
    const res = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${bad}` } })
    expect(res.statusCode).toBe(401)
    expect(res.json().code).toBe('ERR_JWS_SIGNATURE_INVALID')
  })
})

describe('verified-token cache', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi({ fakeClock: true })
  })
  afterAll(async () => {
    await api.close()
  })

  it('refuses a cached token once it expires', async () => {
    const token = api.token({ exp: api.now() + 20 })
    const first = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
    expect(first.statusCode).toBe(200)
    expect(api.app.verifier.cache.size).toBe(0) // seen once: remembered, not cached
    expect((await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200)
    expect(api.app.verifier.cache.size).toBe(1) // seen twice: cached
    api.advance(10_000)
    expect((await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200)
    api.advance(16_000) // past exp + the 5 s leeway
    const late = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
    expect(late.statusCode).toBe(401)
    expect(late.json().code).toBe('ERR_JWT_EXPIRED')
  })

  it('never admits a stream of one-off tokens', async () => {
    const before = api.app.verifier.cache.size
    for (let i = 0; i < 20; i++) {
      expect(
        (await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${api.token({ jti: `once-${i}` })}` } })).statusCode
      ).toBe(200)
    }
    expect(api.app.verifier.cache.size).toBe(before)
  })

  it('never stores a refusal', async () => {
    const before = api.app.verifier.cache.size
    const token = api.token({ aud: 'https://other.example' })
    for (let i = 0; i < 3; i++) {
      expect((await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401)
    }
    expect(api.app.verifier.cache.size).toBe(before)
  })

  it('does not serve a cached token before its nbf', async () => {
    const token = api.token({ nbf: api.now() + 4 })
    expect((await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200)
    api.advance(-20_000)
    const early = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
    expect(early.statusCode).toBe(401)
    expect(early.json().code).toBe('ERR_JWT_NOT_YET_VALID')
    api.advance(20_000)
  })

  it('stays bounded', async () => {
    const small = await startTestApi({ env: { AUTH_TOKEN_CACHE_SIZE: '5' } })
    try {
      for (let i = 0; i < 12; i++) {
        const token = small.token({ jti: `t${i}` })
        for (let use = 0; use < 2; use++) {
          const res = await small.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
          expect(res.statusCode).toBe(200)
        }
      }
      expect(small.app.verifier.cache.size).toBe(5)
    } finally {
      await small.close()
    }
  })
})
