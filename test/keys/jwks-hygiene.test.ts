/**
 * Keys the API refuses to trust, through the API: a set that mixes good keys with a leaked
 * private key, an RSA key whose exponent lets anyone forge (e = 1), an even exponent or a short
 * modulus keeps working with its good keys, and a token naming a refused key is a 401.
 */
import { createHash, generateKeyPairSync } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { LightMyRequestResponse } from 'fastify'
import { b64url } from '../helpers/jwt-sign.js'
import { makeKey, type TestKey } from '../helpers/keys.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

let api: TestApi
beforeEach(async () => {
  api = await startTestApi({ algs: ['RS256', 'ES256'] })
})
afterEach(async () => {
  await api.close()
})

function me(token: string): Promise<LightMyRequestResponse> {
  return api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
}

function expectNoMatchingKey(res: LightMyRequestResponse): void {
  expect(res.statusCode).toBe(401)
  expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/)
  expect(res.json()).toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' })
}

/** The JWK an issuer that leaks its key publishes: the private JWK, with kid, alg and use. */
function leaked(key: TestKey): Record<string, unknown> {
  return { ...(key.privateKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: key.kid, alg: key.alg, use: 'sig' }
}

/**
 * An RS256 signature that holds under e = 1, made without any private key: s^1 mod n = s, so
 * the signature is the PKCS #1 v1.5 block itself (RFC 8017 §9.2), which anyone can write.
 */
function forgeForExponentOne(signingInput: string, modulusBytes: number): Buffer {
  const digestInfo = Buffer.concat([
    Buffer.from('3031300d060960864801650304020105000420', 'hex'), // DigestInfo prefix, SHA-256
    createHash('sha256').update(signingInput).digest()
  ])
  const padding = Buffer.alloc(modulusBytes - 3 - digestInfo.length, 0xff)
  return Buffer.concat([Buffer.from([0x00, 0x01]), padding, Buffer.from([0x00]), digestInfo])
}

describe('refused keys', () => {
  it('a set mixing good and refused keys: the good keys verify, a token naming a refused key is refused', async () => {
    const [rsa, ec] = api.keys as [TestKey, TestKey]
    const leakedRsa = makeKey('RS256', { fresh: true })
    const leakedEc = makeKey('ES256')
    const leakedEd = makeKey('EdDSA')
    const short = makeKey('RS256', { modulusLength: 1024, fresh: true })
    api.issuer.setKeys([rsa, leaked(leakedRsa), ec, leaked(leakedEc), leaked(leakedEd), short])
    await api.app.keyStore.refresh('test')
    expect(api.app.keyStore.keyCount).toBe(2)

    for (const key of [rsa, ec]) expect((await me(api.token({}, {}, key))).statusCode).toBe(200)
    for (const key of [leakedRsa, leakedEc, leakedEd, short]) expectNoMatchingKey(await me(api.token({}, {}, key)))
    for (const key of [rsa, ec]) expect((await me(api.token({}, {}, key))).statusCode).toBe(200)
  })

  it('an RSA key with e = 1 is refused: a token forged without any private key gets 401', async () => {
    const n = (api.key.publicJwk as { n: string }).n
    api.issuer.setKeys([api.key, { kty: 'RSA', kid: 'e-one', alg: 'RS256', use: 'sig', n, e: 'AQ' }])
    await api.app.keyStore.refresh('test')
    expect(api.app.keyStore.keyCount).toBe(1)

    const signingInput = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: 'e-one' }))}.${b64url(JSON.stringify(api.claims({ sub: 'admin' })))}`
    const forged = `${signingInput}.${b64url(forgeForExponentOne(signingInput, Buffer.from(n, 'base64url').length))}`
    expectNoMatchingKey(await me(forged))
    expect((await me(api.token())).statusCode).toBe(200)
  })

  it('an RSA key with an even exponent is refused', async () => {
    api.issuer.setKeys([api.key, { ...makeKey('RS256').publicJwk, kid: 'even', e: Buffer.from([0x01, 0x00, 0x02]).toString('base64url') }])
    await api.app.keyStore.refresh('test')
    expect(api.app.keyStore.keyCount).toBe(1)
    expectNoMatchingKey(await me(api.token({}, { kid: 'even' })))
  })

  it('an RSA key with e = 3 (older keys) still verifies', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 })
    const kid = 'rsa-e3'
    const e3: TestKey = {
      kid,
      alg: 'RS256',
      ...pair,
      publicJwk: { ...(pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid, alg: 'RS256', use: 'sig' }
    }
    expect(e3.publicJwk.e).toBe('Aw')
    api.issuer.setKeys([api.key, e3])
    await api.app.keyStore.refresh('test')
    expect(api.app.keyStore.keyCount).toBe(2)
    expect((await me(api.token({}, {}, e3))).statusCode).toBe(200)
  })
})
