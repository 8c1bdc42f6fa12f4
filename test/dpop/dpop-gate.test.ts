/**
 * The DPoP scheme through the whole app (RFC 9449 §4.3, §7, §9): valid proofs are made by an
 * independent client library (`dpop`), flawed ones by `jose` (a second independent library),
 * never by the project's own code. Each check of §4.3 fails alone, with its own code; a proof
 * replayed against another replica sharing PostgreSQL is refused too.
 */
import { generateKeyPairSync } from 'node:crypto'
import { generateProof } from 'dpop'
import { exportJWK, SignJWT } from 'jose'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ath, craftedProof, dpopClient as client, type DpopClient as Client } from '../helpers/dpop-client.js'
import { makeKey } from '../helpers/keys.js'
import { AUDIENCE, startTestApi, type TestApi } from '../helpers/test-api.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'
import { startTestPostgres, type TestPostgres } from '../helpers/test-postgres.js'

const PUBLIC_URL = 'https://api.example.test'
const HTU = `${PUBLIC_URL}/api/me`

function dpopGet(api: TestApi, token: string, proof: string | string[] | undefined, url = '/api/me'): Promise<LightMyRequestResponse> {
  const headers: Record<string, string | string[]> = { authorization: `DPoP ${token}` }
  if (proof !== undefined) headers.dpop = proof
  return api.app.inject({ method: 'GET', url, headers })
}

function expectRefusal(res: LightMyRequestResponse, status: number, code: string, error: string): void {
  expect(res.statusCode, res.body).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(res.json()).toMatchObject({ status, code })
  const challenge = String(res.headers['www-authenticate'])
  expect(challenge).toMatch(new RegExp(`^DPoP algs="[^"]+", error="${error}"`))
  // both schemes accepted (AUTH_DPOP=allowed): a Bearer challenge too, without the error
  expect(challenge).toMatch(/, Bearer realm="[^"]+", resource_metadata="/)
  expect(res.body).not.toContain('eyJ')
}

describe('DPoP, AUTH_DPOP=allowed (the default)', () => {
  let api: TestApi
  let alice: Client
  let mallory: Client
  let token: string

  beforeAll(async () => {
    api = await startTestApi({ algs: ['ES256'], env: { PUBLIC_URL }, fakeClock: true })
    alice = await client()
    mallory = await client()
    token = api.token({ cnf: { jkt: alice.jkt } })
  })
  afterAll(async () => {
    await api.close()
  })

  it('a DPoP-bound token with a fresh proof by its key: 200, the caller as usual', async () => {
    const proof = await generateProof(alice.keys, HTU, 'GET', undefined, token)
    const res = await dpopGet(api, token, proof)
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toMatchObject({ sub: 'user-1' })
  })

  it.each(['RS256', 'PS256'] as const)('a proof signed with %s is accepted too', async (alg) => {
    const other = await client(alg)
    const bound = api.token({ cnf: { jkt: other.jkt } })
    const res = await dpopGet(api, bound, await generateProof(other.keys, HTU, 'GET', undefined, bound))
    expect(res.statusCode, res.body).toBe(200)
  })

  it('the scheme name is case-insensitive', async () => {
    const proof = await generateProof(alice.keys, HTU, 'GET', undefined, token)
    const res = await api.app.inject({ url: '/api/me', headers: { authorization: `dpop ${token}`, dpop: proof } })
    expect(res.statusCode, res.body).toBe(200)
  })

  it('the same bound token as Bearer: 401 invalid_token (RFC 9449 §7.2), in the Bearer challenge', async () => {
    const res = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'ERR_TOKEN_SENDER_CONSTRAINED' })
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]+", error="invalid_token", .*, DPoP algs="ES256 EdDSA RS256 PS256"/)
  })

  it('an unbound token with the DPoP scheme: 401 invalid_token ERR_DPOP_TOKEN_NOT_BOUND', async () => {
    const plain = api.token()
    const res = await dpopGet(api, plain, await generateProof(alice.keys, HTU, 'GET', undefined, plain))
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'ERR_DPOP_TOKEN_NOT_BOUND' })
    expect(res.headers['www-authenticate']).toMatch(/^DPoP algs="[^"]+", error="invalid_token"/)
  })

  it('an unbound token as Bearer still works beside DPoP', async () => {
    const res = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${api.token()}` } })
    expect(res.statusCode).toBe(200)
  })

  it('no credentials: both challenges, no error (RFC 6750 §3, RFC 9449 §7.1)', async () => {
    const res = await api.app.inject({ url: '/api/me' })
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toBe(
      `Bearer realm="${AUDIENCE}", resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource", DPoP algs="ES256 EdDSA RS256 PS256", resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource"`
    )
  })

  describe('each check of RFC 9449 §4.3 failing alone', () => {
    it('1. no proof: ERR_DPOP_PROOF_MISSING', async () => {
      expectRefusal(await dpopGet(api, token, undefined), 401, 'ERR_DPOP_PROOF_MISSING', 'invalid_dpop_proof')
    })

    it('1. two DPoP headers: ERR_DPOP_MULTIPLE_PROOFS', async () => {
      const one = await generateProof(alice.keys, HTU, 'GET', undefined, token)
      const two = await generateProof(alice.keys, HTU, 'GET', undefined, token)
      expectRefusal(await dpopGet(api, token, [one, two]), 401, 'ERR_DPOP_MULTIPLE_PROOFS', 'invalid_dpop_proof')
      expectRefusal(await dpopGet(api, token, `${one}, ${two}`), 401, 'ERR_DPOP_MULTIPLE_PROOFS', 'invalid_dpop_proof')
    })

    it('2. not a compact JWS: ERR_DPOP_PROOF_MALFORMED', async () => {
      for (const proof of ['not-a-jwt', 'a.b', 'eyJhbGciOiJFUzI1NiJ9.e30.', `${'x'.repeat(9000)}.e30.AA`]) {
        expectRefusal(await dpopGet(api, token, proof), 401, 'ERR_DPOP_PROOF_MALFORMED', 'invalid_dpop_proof')
      }
    })

    it('3. typ not dpop+jwt: ERR_DPOP_PROOF_TYPE', async () => {
      const claims = { htm: 'GET', htu: HTU, iat: api.now(), jti: crypto.randomUUID(), ath: ath(token) }
      for (const typ of ['JWT', 'at+jwt', undefined]) {
        const proof = await craftedProof(alice, claims, { typ })
        expectRefusal(await dpopGet(api, token, proof), 401, 'ERR_DPOP_PROOF_TYPE', 'invalid_dpop_proof')
      }
    })

    it('4. an algorithm outside AUTH_DPOP_ALGORITHMS, or symmetric, or none: ERR_DPOP_PROOF_ALG', async () => {
      const claims = { htm: 'GET', htu: HTU, iat: api.now(), jti: crypto.randomUUID(), ath: ath(token) }
      const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: alice.jwk }).sign(new Uint8Array(32))
      expectRefusal(await dpopGet(api, token, hs), 401, 'ERR_DPOP_PROOF_ALG', 'invalid_dpop_proof')
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' })
      const p384 = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES384', typ: 'dpop+jwt', jwk: await exportJWK(privateKey).then(({ d: _d, ...pub }) => pub) })
        .sign(privateKey)
      expectRefusal(await dpopGet(api, token, p384), 401, 'ERR_DPOP_PROOF_ALG', 'invalid_dpop_proof')
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: alice.jwk })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.AA`
      expectRefusal(await dpopGet(api, token, none), 401, 'ERR_DPOP_PROOF_ALG', 'invalid_dpop_proof')
    })

    it('5. no jwk, a private jwk, or one that does not fit alg: ERR_DPOP_PROOF_JWK', async () => {
      const claims = { htm: 'GET', htu: HTU, iat: api.now(), jti: crypto.randomUUID(), ath: ath(token) }
      const privateJwk = await exportJWK(alice.keys.privateKey).catch(() => undefined)
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const leaked = privateJwk ?? (await exportJWK(privateKey))
      const rsa = await client('RS256')
      for (const header of [{ jwk: undefined }, { jwk: leaked }, { jwk: rsa.jwk }, { jwk: 'not an object' }]) {
        const proof = await craftedProof(alice, claims, header, header.jwk === leaked && privateJwk === undefined ? privateKey : undefined)
        expectRefusal(await dpopGet(api, token, proof), 401, 'ERR_DPOP_PROOF_JWK', 'invalid_dpop_proof')
      }
    })

    it('6. signed by another key than its jwk: ERR_DPOP_PROOF_SIGNATURE', async () => {
      const claims = { htm: 'GET', htu: HTU, iat: api.now(), jti: crypto.randomUUID(), ath: ath(token) }
      const proof = await craftedProof(alice, claims, {}, mallory.keys.privateKey)
      expectRefusal(await dpopGet(api, token, proof), 401, 'ERR_DPOP_PROOF_SIGNATURE', 'invalid_dpop_proof')
    })

    it('7. htm another method: ERR_DPOP_PROOF_HTM', async () => {
      for (const htm of ['POST', 'get', 'HEAD']) {
        const proof = await generateProof(alice.keys, HTU, htm, undefined, token)
        expectRefusal(await dpopGet(api, token, proof), 401, 'ERR_DPOP_PROOF_HTM', 'invalid_dpop_proof')
      }
    })

    it('8. htu another URI (host, scheme, path, port), never the request Host: ERR_DPOP_PROOF_HTU', async () => {
      for (const htu of [
        'https://evil.example/api/me',
        'http://api.example.test/api/me',
        `${PUBLIC_URL}/api/messages`,
        `${PUBLIC_URL}:8443/api/me`,
        `${PUBLIC_URL}/api/me/`,
        'localhost/api/me',
        'http://localhost:80/api/me'
      ]) {
        const proof = await generateProof(alice.keys, htu, 'GET', undefined, token)
        expectRefusal(await dpopGet(api, token, proof), 401, 'ERR_DPOP_PROOF_HTU', 'invalid_dpop_proof')
      }
    })

    it('8. htu after RFC 3986 normalisation: case of scheme and host, default port, percent-encoding, query and fragment ignored', async () => {
      for (const htu of [
        'HTTPS://API.Example.TEST/api/me',
        'https://api.example.test:443/api/me',
        'https://api.example.test/%61pi/me',
        `${HTU}?page=2`,
        `${HTU}#fragment`
      ]) {
        const proof = await generateProof(alice.keys, htu, 'GET', undefined, token)
        const res = await dpopGet(api, token, proof)
        expect(res.statusCode, `${htu}: ${res.body}`).toBe(200)
      }
      const withQuery = await generateProof(alice.keys, HTU, 'GET', undefined, token)
      expect((await dpopGet(api, token, withQuery, '/api/me?x=1')).statusCode).toBe(200)
    })

    it('9. iat outside the window (60 s past, 5 s ahead by default), or absent: ERR_DPOP_PROOF_IAT', async () => {
      const now = api.now()
      for (const iat of [now - 66, now + 6, undefined, String(now)]) {
        const claims = { htm: 'GET', htu: HTU, iat, jti: crypto.randomUUID(), ath: ath(token) }
        expectRefusal(await dpopGet(api, token, await craftedProof(alice, claims)), 401, 'ERR_DPOP_PROOF_IAT', 'invalid_dpop_proof')
      }
      // inside the window on both sides
      for (const iat of [now - 60, now + 4]) {
        const claims = { htm: 'GET', htu: HTU, iat, jti: crypto.randomUUID(), ath: ath(token) }
        expect((await dpopGet(api, token, await craftedProof(alice, claims))).statusCode).toBe(200)
      }
    })

    it('9. a proof made before the app clock moved past the window: ERR_DPOP_PROOF_IAT', async () => {
      const proof = await generateProof(alice.keys, HTU, 'GET', undefined, token)
      api.advance(70_000)
      try {
        const fresh = api.token({ cnf: { jkt: alice.jkt } })
        const stale = await generateProof(alice.keys, HTU, 'GET', undefined, fresh)
        // the library stamps the real clock: 70 s behind the app's
        expectRefusal(await dpopGet(api, fresh, stale), 401, 'ERR_DPOP_PROOF_IAT', 'invalid_dpop_proof')
        expect(proof).not.toBe(stale)
      } finally {
        api.advance(-70_000)
      }
    })

    it('10. no jti, or not a string: ERR_DPOP_PROOF_JTI', async () => {
      for (const jti of [undefined, 42, '']) {
        const claims = { htm: 'GET', htu: HTU, iat: api.now(), jti, ath: ath(token) }
        expectRefusal(await dpopGet(api, token, await craftedProof(alice, claims)), 401, 'ERR_DPOP_PROOF_JTI', 'invalid_dpop_proof')
      }
    })

    it('10. the same proof twice: the second is ERR_DPOP_PROOF_REPLAYED', async () => {
      const proof = await generateProof(alice.keys, HTU, 'GET', undefined, token)
      expect((await dpopGet(api, token, proof)).statusCode).toBe(200)
      expectRefusal(await dpopGet(api, token, proof), 401, 'ERR_DPOP_PROOF_REPLAYED', 'invalid_dpop_proof')
    })

    it('10. a refused request burns no jti: the same proof is accepted once the request is right', async () => {
      const proof = await generateProof(alice.keys, HTU, 'GET', undefined, token)
      // sent with another token (ath mismatch) first
      const other = api.token({ cnf: { jkt: alice.jkt } })
      expectRefusal(await dpopGet(api, other, proof), 401, 'ERR_DPOP_PROOF_ATH', 'invalid_dpop_proof')
      expect((await dpopGet(api, token, proof)).statusCode).toBe(200)
    })

    it('11. ath absent or the hash of another token: ERR_DPOP_PROOF_ATH', async () => {
      const without = await generateProof(alice.keys, HTU, 'GET')
      expectRefusal(await dpopGet(api, token, without), 401, 'ERR_DPOP_PROOF_ATH', 'invalid_dpop_proof')
      const other = await generateProof(alice.keys, HTU, 'GET', undefined, api.token({ cnf: { jkt: alice.jkt } }))
      expectRefusal(await dpopGet(api, token, other), 401, 'ERR_DPOP_PROOF_ATH', 'invalid_dpop_proof')
    })

    it("12. a proof by another key than the token's cnf.jkt: ERR_DPOP_KEY_MISMATCH", async () => {
      const proof = await generateProof(mallory.keys, HTU, 'GET', undefined, token)
      expectRefusal(await dpopGet(api, token, proof), 401, 'ERR_DPOP_KEY_MISMATCH', 'invalid_dpop_proof')
    })
  })

  it('a valid proof does not rescue an invalid token: the token is refused first (invalid_token)', async () => {
    const expired = api.token({ cnf: { jkt: alice.jkt }, exp: api.now() - 60 })
    const res = await dpopGet(api, expired, await generateProof(alice.keys, HTU, 'GET', undefined, expired))
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'ERR_JWT_EXPIRED' })
    expect(res.headers['www-authenticate']).toMatch(/^DPoP algs="[^"]+", error="invalid_token"/)
  })

  it('missing scope with DPoP: 403, insufficient_scope in the DPoP challenge', async () => {
    const narrow = api.token({ cnf: { jkt: alice.jkt }, scope: 'read:messages' })
    const proof = await generateProof(alice.keys, `${PUBLIC_URL}/api/messages`, 'POST', undefined, narrow)
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { authorization: `DPoP ${narrow}`, dpop: proof, 'content-type': 'application/json' },
      payload: { text: 'hi' }
    })
    expect(res.statusCode).toBe(403)
    expect(res.headers['www-authenticate']).toMatch(/^DPoP algs="[^"]+", error="insufficient_scope", .*scope="write:messages"/)
  })

  it('a write with DPoP: 201, and the proof binds the method and the path', async () => {
    const proof = await generateProof(alice.keys, `${PUBLIC_URL}/api/messages`, 'POST', undefined, token)
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { authorization: `DPoP ${token}`, dpop: proof, 'content-type': 'application/json' },
      payload: { text: 'bound' }
    })
    expect(res.statusCode, res.body).toBe(201)
  })

  it('RFC 9728 metadata names the proof algorithms, and that bound tokens are not required', async () => {
    const res = await api.app.inject({ url: '/.well-known/oauth-protected-resource' })
    expect(res.json()).toMatchObject({
      dpop_signing_alg_values_supported: ['ES256', 'EdDSA', 'RS256', 'PS256'],
      dpop_bound_access_tokens_required: false
    })
  })
})

describe('AUTH_DPOP=required', () => {
  let api: TestApi
  let alice: Client

  beforeAll(async () => {
    api = await startTestApi({ algs: ['ES256'], env: { PUBLIC_URL, AUTH_DPOP: 'required', AUTH_DPOP_ALGORITHMS: 'ES256' } })
    alice = await client()
  })
  afterAll(async () => {
    await api.close()
  })

  it('Bearer is refused, even with a valid unbound token: 401, a DPoP challenge only', async () => {
    const res = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${api.token()}` } })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'ERR_DPOP_REQUIRED' })
    expect(res.headers['www-authenticate']).toMatch(
      /^DPoP algs="ES256", error="invalid_token", error_description="[^"]+", resource_metadata="[^"]+"$/
    )
  })

  it('no credentials: the DPoP challenge only', async () => {
    const res = await api.app.inject({ url: '/api/me' })
    expect(res.headers['www-authenticate']).toBe(
      `DPoP algs="ES256", resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource"`
    )
  })

  it('DPoP works', async () => {
    const token = api.token({ cnf: { jkt: alice.jkt } })
    const res = await dpopGet(api, token, await generateProof(alice.keys, HTU, 'GET', undefined, token))
    expect(res.statusCode, res.body).toBe(200)
  })

  it('metadata: dpop_bound_access_tokens_required true', async () => {
    const res = await api.app.inject({ url: '/.well-known/oauth-protected-resource' })
    expect(res.json()).toMatchObject({ dpop_signing_alg_values_supported: ['ES256'], dpop_bound_access_tokens_required: true })
  })
})

describe('AUTH_DPOP=disabled', () => {
  let api: TestApi
  let alice: Client

  beforeAll(async () => {
    api = await startTestApi({ algs: ['ES256'], env: { PUBLIC_URL, AUTH_DPOP: 'disabled' } })
    alice = await client()
  })
  afterAll(async () => {
    await api.close()
  })

  it('the DPoP scheme is another scheme: 401 with the Bearer challenge only, no error', async () => {
    const token = api.token({ cnf: { jkt: alice.jkt } })
    const res = await dpopGet(api, token, await generateProof(alice.keys, HTU, 'GET', undefined, token))
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'ERR_DPOP_NOT_ACCEPTED' })
    expect(res.headers['www-authenticate']).toBe(
      `Bearer realm="${AUDIENCE}", resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource"`
    )
  })

  it('a bound token as Bearer is refused; metadata names no DPoP', async () => {
    const res = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${api.token({ cnf: { jkt: alice.jkt } })}` } })
    expect(res.json()).toMatchObject({ code: 'ERR_TOKEN_SENDER_CONSTRAINED' })
    const metadata = (await api.app.inject({ url: '/.well-known/oauth-protected-resource' })).json()
    expect(metadata).not.toHaveProperty('dpop_signing_alg_values_supported')
    expect(metadata).not.toHaveProperty('dpop_bound_access_tokens_required')
  })
})

describe('server nonces, AUTH_DPOP_NONCE=on', () => {
  let api: TestApi
  let alice: Client
  const STEP = 300

  beforeAll(async () => {
    api = await startTestApi({
      algs: ['ES256'],
      env: { PUBLIC_URL, AUTH_DPOP_NONCE: 'on', AUTH_DPOP_NONCE_SECRET: 'n'.repeat(32), AUTH_DPOP_NONCE_STEP: String(STEP) },
      fakeClock: true
    })
    alice = await client()
  })
  afterAll(async () => {
    await api.close()
  })

  it('a proof without a nonce: 401 use_dpop_nonce with DPoP-Nonce; the retry with it passes; the answer carries a nonce', async () => {
    const token = api.token({ cnf: { jkt: alice.jkt } })
    const first = await dpopGet(api, token, await generateProof(alice.keys, HTU, 'GET', undefined, token))
    expect(first.statusCode).toBe(401)
    expect(first.json()).toMatchObject({ code: 'ERR_DPOP_NONCE_REQUIRED' })
    expect(first.headers['www-authenticate']).toMatch(/^DPoP algs="[^"]+", error="use_dpop_nonce"/)
    const nonce = first.headers['dpop-nonce']
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{16,}$/)
    const second = await dpopGet(api, token, await generateProof(alice.keys, HTU, 'GET', String(nonce), token))
    expect(second.statusCode, second.body).toBe(200)
    expect(second.headers['dpop-nonce']).toBe(nonce)
  })

  it('rotation: a nonce stays valid one step on, not two; the new one is given meanwhile', async () => {
    const nonce = String((await api.app.inject({ url: '/api/me' })).headers['dpop-nonce'])
    api.advance(STEP * 1000)
    try {
      const token = api.token({ cnf: { jkt: alice.jkt } })
      // proofs stamped with the app's clock (the library uses the real one)
      const proofAt = (value: string): Promise<string> =>
        craftedProof(alice, { htm: 'GET', htu: HTU, iat: api.now(), jti: crypto.randomUUID(), ath: ath(token), nonce: value })
      const stillValid = await dpopGet(api, token, await proofAt(nonce))
      expect(stillValid.statusCode, stillValid.body).toBe(200)
      const next = String(stillValid.headers['dpop-nonce'])
      expect(next).not.toBe(nonce)
      api.advance(STEP * 1000)
      const tooOld = await dpopGet(api, token, await proofAt(nonce))
      expect(tooOld.json()).toMatchObject({ code: 'ERR_DPOP_NONCE_REQUIRED' })
      expect((await dpopGet(api, token, await proofAt(next))).statusCode).toBe(200)
      expect((await dpopGet(api, token, await proofAt('forged-nonce-value'))).json()).toMatchObject({ code: 'ERR_DPOP_NONCE_REQUIRED' })
    } finally {
      api.advance(-2 * STEP * 1000)
    }
  })
})

describe('CORS with DPoP', () => {
  let api: TestApi

  beforeAll(async () => {
    api = await startTestApi({ env: { PUBLIC_URL, CORS_ORIGINS: 'https://spa.example.test' } })
  })
  afterAll(async () => {
    await api.close()
  })

  it('a preflight asking for Authorization and DPoP is allowed; refusals expose WWW-Authenticate and DPoP-Nonce', async () => {
    const preflight = await api.app.inject({
      method: 'OPTIONS',
      url: '/api/me',
      headers: {
        origin: 'https://spa.example.test',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization,dpop'
      }
    })
    expect(preflight.statusCode).toBe(204)
    expect(String(preflight.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/)).toEqual(
      expect.arrayContaining(['authorization', 'dpop'])
    )
    const refused = await api.app.inject({ url: '/api/me', headers: { origin: 'https://spa.example.test' } })
    expect(String(refused.headers['access-control-expose-headers']).toLowerCase().split(/,\s*/)).toEqual(
      expect.arrayContaining(['www-authenticate', 'dpop-nonce'])
    )
  })
})

describe('two API instances on one PostgreSQL (replicas)', () => {
  let postgres: TestPostgres
  let issuer: TestIssuer
  let first: TestApi
  let second: TestApi
  let alice: Client
  const key = makeKey('ES256')

  beforeAll(async () => {
    postgres = await startTestPostgres()
    issuer = await startTestIssuer({ keys: [key] })
    const env = { PUBLIC_URL, DATABASE_URL: await postgres.createDatabase() }
    first = await startTestApi({ issuer, keys: [key], env })
    second = await startTestApi({ issuer, keys: [key], env })
    alice = await client()
  }, 60_000)
  afterAll(async () => {
    await first?.close()
    await second?.close()
    await issuer?.close()
    await postgres?.close()
  })

  it('a proof accepted by one replica is refused as a replay by the other', async () => {
    const token = first.token({ cnf: { jkt: alice.jkt } })
    const proof = await generateProof(alice.keys, HTU, 'GET', undefined, token)
    expect((await dpopGet(first, token, proof)).statusCode).toBe(200)
    expectRefusal(await dpopGet(second, token, proof), 401, 'ERR_DPOP_PROOF_REPLAYED', 'invalid_dpop_proof')
    // and a fresh proof still passes on the second
    expect((await dpopGet(second, token, await generateProof(alice.keys, HTU, 'GET', undefined, token))).statusCode).toBe(200)
  })

  it('while PostgreSQL is away: 503 ERR_DPOP_REPLAY_CHECK_UNAVAILABLE with Retry-After, never a pass; then it recovers', async () => {
    const token = first.token({ cnf: { jkt: alice.jkt } })
    await postgres.stop()
    try {
      const res = await dpopGet(first, token, await generateProof(alice.keys, HTU, 'GET', undefined, token))
      expect(res.statusCode).toBe(503)
      expect(res.json()).toMatchObject({ code: 'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE' })
      expect(res.headers['retry-after']).toMatch(/^\d+$/)
      // Bearer tokens do not need the replay store
      expect((await first.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${first.token()}` } })).statusCode).toBe(200)
    } finally {
      await postgres.start()
    }
    await vi.waitFor(
      async () => {
        const res = await dpopGet(first, token, await generateProof(alice.keys, HTU, 'GET', undefined, token))
        expect(res.statusCode, res.body).toBe(200)
      },
      { timeout: 20_000, interval: 500 }
    )
  }, 40_000)
})
