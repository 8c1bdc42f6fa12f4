/**
 * A token without kid is checked against MAX_KEYS_WITHOUT_KID keys at most (the first ones of
 * its alg in the issuer's set), so a set of many keys cannot make every such token cost a
 * signature check per key. The key store test counts the candidates; here, through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LightMyRequestResponse } from 'fastify'
import { MAX_KEYS_WITHOUT_KID } from '../../src/keys/key-store.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

let api: TestApi
beforeAll(async () => {
  api = await startTestApi({ algs: Array.from({ length: 20 }, () => 'ES256' as const) })
})
afterAll(async () => {
  await api.close()
})

function me(token: string): Promise<LightMyRequestResponse> {
  return api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
}

function withoutKid(index: number): string {
  return api.token({}, { kid: undefined }, api.keys[index])
}

describe('a token without kid, with a set of 20 keys of its alg', () => {
  it(`is accepted when signed by one of the first ${MAX_KEYS_WITHOUT_KID} keys`, async () => {
    expect(api.app.keyStore.keyCount).toBe(20)
    for (let i = 0; i < MAX_KEYS_WITHOUT_KID; i++) expect((await me(withoutKid(i))).statusCode).toBe(200)
  })

  it('is refused when signed by a later key: it is never tried', async () => {
    for (const index of [MAX_KEYS_WITHOUT_KID, 19]) {
      const res = await me(withoutKid(index))
      expect(res.statusCode).toBe(401)
      expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/)
      expect(res.json()).toMatchObject({ code: 'ERR_JWS_SIGNATURE_INVALID' })
    }
  })

  it('with a kid, is found among all 20 keys', async () => {
    expect((await me(api.token({}, {}, api.keys[19]))).statusCode).toBe(200)
  })
})
