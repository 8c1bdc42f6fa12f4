/**
 * A NumericDate (exp, nbf, iat) must be a date: finite, from 1970 to the year 9999. A signed
 * token (or an introspection answer) with an absurd one is refused with 401 invalid_token and
 * ERR_JWT_CLAIM_INVALID, never answered with a 500 by a later step that prints the date.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeCaller } from '../../routes/api/me/index.js'
import { INTROSPECTION_CREDENTIALS, opaque } from '../helpers/introspection.js'
import { signRaw } from '../helpers/jwt-sign.js'
import { me, startTestApi, type TestApi } from '../helpers/test-api.js'

const LAST_SECOND_OF_9999 = 253_402_300_799

type Inject = Awaited<ReturnType<TestApi['app']['inject']>>

function expectNotADate(res: Inject, claim: string): void {
  expect(res.statusCode, res.body).toBe(401)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(res.json()).toMatchObject({
    status: 401,
    code: 'ERR_JWT_CLAIM_INVALID',
    detail: expect.stringContaining(`"${claim}" claim is not a valid date`)
  })
  expect(res.headers['www-authenticate']).toMatch(
    new RegExp(`error="invalid_token", error_description="[^"]*'?${claim}'? claim is not a valid date`)
  )
}

describe('absurd NumericDates in a signed JWT', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi()
  })
  afterAll(async () => {
    await api.close()
  })

  /** Signs the claims with the test key, with `raw` spliced into the payload as written (e.g. 1e400). */
  const rawToken = (raw: string): string =>
    signRaw(
      api.key,
      JSON.stringify({ alg: api.key.alg, kid: api.key.kid, typ: 'at+jwt' }),
      JSON.stringify(api.claims({ exp: undefined })).replace(/^\{/, `{${raw},`)
    )

  it.each([
    ['exp', 9e12, 'beyond what a JS Date holds'],
    ['exp', 1e300, 'absurdly far'],
    ['exp', LAST_SECOND_OF_9999 + 1, 'in the year 10000'],
    ['exp', -1, 'before 1970'],
    ['exp', -1e300, 'absurdly long ago'],
    ['nbf', -1e300, 'long past (it would pass the nbf check)'],
    ['nbf', 9e12, 'beyond what a JS Date holds'],
    ['iat', -5, 'before 1970 (it would pass the iat check)'],
    ['iat', 1e300, 'absurdly far']
  ])('%s = %d (%s) → 401 ERR_JWT_CLAIM_INVALID', async (claim, value) => {
    expectNotADate(await me(api, api.token({ [claim]: value })), claim)
  })

  it.each(['1e400', '-1e400'])('exp = %s (Infinity once parsed) → 401 ERR_JWT_CLAIM_INVALID', async (value) => {
    expectNotADate(await me(api, rawToken(`"exp":${value}`)), 'exp')
  })

  it('accepts the last second of the year 9999, and prints it', async () => {
    const res = await me(api, api.token({ exp: LAST_SECOND_OF_9999 }))
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json().expiresAt).toBe('9999-12-31T23:59:59.000Z')
  })

  it('accepts a non-integer exp, and nbf 0', async () => {
    const exp = api.now() + 300.5
    const res = await me(api, api.token({ exp, nbf: 0 }))
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json().expiresAt).toBe(new Date(exp * 1000).toISOString())
  })
})

describe('absurd NumericDates in an introspection answer', () => {
  let api: TestApi
  const answers = new Map<string, string>()
  /** An opaque token whose introspection answer is the active claims with `raw` spliced in as written. */
  const tokenAnswering = (raw: string): string => {
    const token = opaque()
    const claims = JSON.stringify(api.claims({ active: true, exp: undefined, nbf: undefined, jti: undefined }))
    answers.set(token, claims.replace(/^\{/, `{${raw},`))
    return token
  }

  beforeAll(async () => {
    api = await startTestApi({ env: { AUTH_TOKEN_FORMATS: 'jwt,opaque', ...INTROSPECTION_CREDENTIALS } })
    api.issuer.onIntrospect = (req) => ({ body: answers.get(req.token) ?? { active: false } })
  })
  afterAll(async () => {
    await api.close()
  })

  it.each([
    ['exp', '9e12'],
    ['exp', '1e300'],
    ['exp', '1e400'],
    ['exp', String(LAST_SECOND_OF_9999 + 1)],
    ['nbf', '-1e300'],
    ['nbf', '-1']
  ])('%s = %s → 401 ERR_JWT_CLAIM_INVALID', async (claim, value) => {
    const res = await me(api, tokenAnswering(`"${claim}":${value}`))
    expect(res.statusCode, res.body).toBe(401)
    expect(res.json()).toMatchObject({ code: 'ERR_JWT_CLAIM_INVALID', detail: expect.stringContaining('not a valid date') })
  })

  it('accepts exp at the last second of the year 9999, and prints it', async () => {
    const res = await me(api, tokenAnswering(`"exp":${LAST_SECOND_OF_9999}`))
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json().expiresAt).toBe('9999-12-31T23:59:59.000Z')
  })
})

describe('describeCaller', () => {
  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 9e12, 1e300, -1e300, LAST_SECOND_OF_9999 + 1, -62_198_755_201])(
    'never throws: expiresAt %d is no printable date → null',
    (expiresAt) => {
      const body = describeCaller({
        sub: 's',
        clientId: undefined,
        scopes: [],
        issuer: 'https://issuer.example',
        binding: undefined,
        expiresAt,
        format: 'jwt',
        claims: {}
      })
      expect(body).toEqual({ sub: 's', clientId: null, scopes: [], issuer: 'https://issuer.example', expiresAt: null })
    }
  )
})
