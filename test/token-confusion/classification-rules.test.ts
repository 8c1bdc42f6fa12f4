/**
 * The contract's "ID tokens are not access tokens", rule by rule: header typ, the RFC 9068
 * profile, ID-token-only claims, provider markers, key-bound tokens sent as Bearer, and the
 * presets' scope claims. Every token here is validly signed by the test issuer, with the right
 * iss, aud and exp, so that only the rule under test can refuse it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AUDIENCE, CLIENT_ID, startTestApi, type TestApi } from '../helpers/test-api.js'
import { signRaw } from '../helpers/jwt-sign.js'

interface Answer {
  status: number
  code: string | undefined
  detail: string
  /** error="..." of WWW-Authenticate */
  error: string | undefined
  /** error_description="..." of WWW-Authenticate */
  description: string | undefined
  www: string
  body: Record<string, unknown>
}

async function call(api: TestApi, token: string, request: { method?: 'GET' | 'POST'; url?: string; body?: unknown } = {}): Promise<Answer> {
  const res = await api.app.inject({
    method: request.method ?? 'GET',
    url: request.url ?? '/api/me',
    headers: { authorization: `Bearer ${token}` },
    ...(request.body === undefined ? {} : { payload: request.body as Record<string, unknown> })
  })
  const body = res.json<Record<string, unknown>>()
  const www = String(res.headers['www-authenticate'] ?? '')
  return {
    status: res.statusCode,
    code: typeof body.code === 'string' ? body.code : undefined,
    detail: typeof body.detail === 'string' ? body.detail : '',
    error: /\berror="([^"]*)"/.exec(www)?.[1],
    description: /\berror_description="([^"]*)"/.exec(www)?.[1],
    www,
    body
  }
}

const ID_TOKEN = /An ID token was presented where an access token is required/
const NOT_ACCESS_TOKEN = /was presented where an access token is required/

/** 401 invalid_token whose description (header and problem detail) matches `description`. */
function expectRefused(answer: Answer, code: string, description: RegExp): void {
  expect(answer.status, answer.detail).toBe(401)
  expect(answer.error).toBe('invalid_token')
  expect(answer.code).toBe(code)
  expect(answer.description).toMatch(description)
  expect(answer.detail).toMatch(description)
}

function expectAccepted(answer: Answer): void {
  expect(answer.status, `${answer.code ?? ''} ${answer.detail}`).toBe(200)
}

/** One app per configuration, started once for the whole file. */
const apis = new Map<string, TestApi>()
const CONFIGS = {
  generic: {},
  rfc9068: { AUTH_TOKEN_PROFILE: 'rfc9068' },
  auth0: { AUTH_PROVIDER: 'auth0' },
  okta: { AUTH_PROVIDER: 'okta' },
  entra: { AUTH_PROVIDER: 'entra' },
  keycloak: { AUTH_PROVIDER: 'keycloak' },
  cognito: { AUTH_PROVIDER: 'cognito', AUTH_CLIENT_IDS: CLIENT_ID }
} satisfies Record<string, Record<string, string>>
type ConfigName = keyof typeof CONFIGS

function api(name: ConfigName): TestApi {
  const found = apis.get(name)
  if (found === undefined) throw new Error(`app ${name} not started`)
  return found
}

beforeAll(async () => {
  await Promise.all(
    Object.entries(CONFIGS).map(async ([name, env]) => {
      apis.set(name, await startTestApi({ env }))
    })
  )
})
afterAll(async () => {
  await Promise.all([...apis.values()].map((each) => each.close()))
})

describe('header typ', () => {
  it.each(['at+jwt', 'AT+JWT', 'At+Jwt', 'application/at+jwt', 'APPLICATION/AT+JWT', 'JWT', 'jwt', 'application/jwt'])(
    'accepts typ %s under auto',
    async (typ) => {
      const t = api('generic')
      expectAccepted(await call(t, t.token({}, { typ })))
    }
  )

  it('accepts a token with no typ under auto', async () => {
    const t = api('generic')
    expectAccepted(await call(t, t.token({}, { typ: undefined })))
  })

  it.each([
    ['dpop+jwt', /DPoP proof/],
    ['DPoP+JWT', /DPoP proof/],
    ['application/dpop+jwt', /DPoP proof/],
    ['logout+jwt', /logout token/],
    ['application/logout+jwt', /logout token/],
    ['secevent+jwt', /security event token/],
    ['application/secevent+jwt', /security event token/],
    ['token-introspection+jwt', /introspection response/],
    ['client-authentication+jwt', /client assertion/],
    ['example+jwt', /token of type "example\+jwt"/]
  ])('refuses typ %s, naming the kind of token', async (typ, kind) => {
    const t = api('generic')
    const answer = await call(t, t.token({}, { typ }))
    expectRefused(answer, 'ERR_NOT_ACCESS_TOKEN', NOT_ACCESS_TOKEN)
    expect(answer.detail).toMatch(kind)
  })

  it.each(['id_token+jwt', 'application/id_token+jwt'])('refuses typ %s as an ID token', async (typ) => {
    const t = api('generic')
    expectRefused(await call(t, t.token({}, { typ })), 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
  })

  // Bug found here: a typ naming a property of Object.prototype made the lookup of known
  // types return a function or an object, and the description builder threw (500).
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])('refuses typ %s with a 401, not a crash', async (typ) => {
    const t = api('generic')
    const answer = await call(t, t.token({}, { typ }))
    expectRefused(answer, 'ERR_NOT_ACCESS_TOKEN', NOT_ACCESS_TOKEN)
    expect(answer.detail).toContain(`token of type "${typ.toLowerCase()}"`)
  })

  it('refuses an empty typ as an explicit, unknown type', async () => {
    const t = api('generic')
    expectRefused(await call(t, t.token({}, { typ: '' })), 'ERR_NOT_ACCESS_TOKEN', NOT_ACCESS_TOKEN)
  })
})

describe('AUTH_TOKEN_PROFILE=rfc9068', () => {
  it.each(['at+jwt', 'AT+JWT', 'application/at+jwt'])('accepts typ %s with every RFC 9068 claim', async (typ) => {
    const t = api('rfc9068')
    expectAccepted(await call(t, t.token({}, { typ })))
  })

  it.each([['JWT'], ['application/jwt'], [undefined]])('refuses typ %s', async (typ) => {
    const t = api('rfc9068')
    const answer = await call(t, t.token({}, { typ }))
    expectRefused(answer, 'ERR_JWT_TYPE_INVALID', NOT_ACCESS_TOKEN)
    expect(answer.description).toContain('at+jwt')
  })

  it.each(['dpop+jwt', 'logout+jwt', 'secevent+jwt'])('refuses typ %s, naming the kind of token', async (typ) => {
    const t = api('rfc9068')
    expectRefused(await call(t, t.token({}, { typ })), 'ERR_NOT_ACCESS_TOKEN', NOT_ACCESS_TOKEN)
  })

  it('names an ID token as one, typ JWT and all', async () => {
    const t = api('rfc9068')
    expectRefused(await call(t, t.token({ nonce: 'n-0S6_WzA2Mj' }, { typ: 'JWT' })), 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
    expectRefused(
      await call(t, t.token({ at_hash: 'MTIzNDU2Nzg5MDEyMzQ1Ng' }, { typ: undefined })),
      'ERR_ID_TOKEN_NOT_ACCESS_TOKEN',
      ID_TOKEN
    )
    expectRefused(await call(t, t.token({ token_use: 'id' }, { typ: undefined })), 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
  })

  it.each(['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'])('requires %s', async (claim) => {
    const t = api('rfc9068')
    const answer = await call(t, t.token({ [claim]: undefined }))
    expect(answer.status).toBe(401)
    expect(answer.error).toBe('invalid_token')
    expect(answer.code).toBe('ERR_JWT_CLAIM_MISSING')
    expect(answer.detail).toContain(`"${claim}"`)
  })

  it.each(['sub', 'client_id', 'iat', 'jti'])('does not require %s under auto', async (claim) => {
    const t = api('generic')
    expectAccepted(await call(t, t.token({ [claim]: undefined })))
  })

  it.each(['iss', 'exp', 'aud'])('requires %s under auto too', async (claim) => {
    const t = api('generic')
    const answer = await call(t, t.token({ [claim]: undefined }))
    expect(answer.status).toBe(401)
    expect(answer.code).toBe('ERR_JWT_CLAIM_MISSING')
  })
})

describe('claims only ID tokens carry', () => {
  it.each(['at_hash', 'c_hash', 's_hash'])('refuses %s, even with typ at+jwt', async (claim) => {
    const t = api('generic')
    for (const typ of ['at+jwt', 'JWT', undefined]) {
      expectRefused(await call(t, t.token({ [claim]: 'LDktKdoQak3Pk0cnXxCltA' }, { typ })), 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
    }
  })

  it.each([['JWT'], [undefined], ['application/jwt']])('refuses nonce without an access-token marker (typ %s)', async (typ) => {
    const t = api('generic')
    expectRefused(await call(t, t.token({ nonce: 'n-0S6_WzA2Mj' }, { typ })), 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
  })

  it('accepts nonce with header typ at+jwt', async () => {
    const t = api('generic')
    expectAccepted(await call(t, t.token({ nonce: 'n-0S6_WzA2Mj' }, { typ: 'at+jwt' })))
  })

  it('accepts nonce with the Keycloak marker, payload typ Bearer', async () => {
    for (const name of ['generic', 'keycloak'] as const) {
      const t = api(name)
      expectAccepted(await call(t, t.token({ nonce: 'n-0S6_WzA2Mj', typ: 'Bearer' }, { typ: 'JWT' })))
    }
  })

  it('accepts nonce with the Cognito marker, token_use access', async () => {
    for (const name of ['generic', 'cognito'] as const) {
      const t = api(name)
      expectAccepted(await call(t, t.token({ nonce: 'n-0S6_WzA2Mj', token_use: 'access' }, { typ: undefined })))
    }
  })

  it('refuses nonce with a marker that does not say access', async () => {
    const t = api('generic')
    expectRefused(await call(t, t.token({ nonce: 'n', token_use: 'id' }, { typ: 'at+jwt' })), 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
  })
})

describe('provider markers that name the token', () => {
  it.each(['generic', 'cognito'] as const)('refuses Cognito token_use id (%s)', async (name) => {
    const t = api(name)
    expectRefused(await call(t, t.token({ token_use: 'id' }, { typ: undefined })), 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
  })

  it('refuses another token_use, saying what it is', async () => {
    const t = api('generic')
    const answer = await call(t, t.token({ token_use: 'refresh' }, { typ: undefined }))
    expectRefused(answer, 'ERR_NOT_ACCESS_TOKEN', NOT_ACCESS_TOKEN)
    expect(answer.detail).toContain('token_use "refresh"')
  })

  it.each(['generic', 'keycloak'] as const)('refuses Keycloak payload typ ID (%s)', async (name) => {
    const t = api(name)
    expectRefused(await call(t, t.token({ typ: 'ID', azp: CLIENT_ID }, { typ: 'JWT' })), 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
  })

  it.each(['generic', 'keycloak'] as const)('refuses Keycloak payload typ Refresh as a refresh token (%s)', async (name) => {
    const t = api(name)
    const answer = await call(t, t.token({ typ: 'Refresh', azp: CLIENT_ID }, { typ: 'JWT' }))
    expectRefused(answer, 'ERR_NOT_ACCESS_TOKEN', NOT_ACCESS_TOKEN)
    expect(answer.description).toMatch(/^A refresh token was presented/)
  })

  it.each(['Logout', 'Offline', 'Serialized-ID'])('refuses Keycloak payload typ %s', async (typ) => {
    const t = api('keycloak')
    expectRefused(await call(t, t.token({ typ, azp: CLIENT_ID }, { typ: 'JWT' })), 'ERR_NOT_ACCESS_TOKEN', NOT_ACCESS_TOKEN)
  })

  // A claim value that is not a string must not break the description (an object whose own
  // toString is not a function cannot be converted with String()).
  it.each([
    ['token_use', { toString: 1 }],
    ['token_use', ['access']],
    ['typ', { valueOf: 'x', toString: null }],
    ['typ', 42]
  ])('refuses %s = %j with a 401, not a crash', async (claim, value) => {
    const t = api('generic')
    expectRefused(await call(t, t.token({ [claim]: value }, { typ: 'JWT' })), 'ERR_NOT_ACCESS_TOKEN', NOT_ACCESS_TOKEN)
  })
})

describe('a key-bound token (cnf) sent with the Bearer scheme (RFC 9449 §7.2)', () => {
  const cnf = { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' }

  it.each(['generic', 'rfc9068', 'auth0', 'okta'] as const)('is refused under %s, the description naming the key binding', async (name) => {
    const t = api(name)
    const answer = await call(t, t.token({ cnf, cid: CLIENT_ID }))
    expectRefused(answer, 'ERR_TOKEN_SENDER_CONSTRAINED', /bound to a key/)
    expect(answer.description).toMatch(/DPoP/)
    expect(answer.description).toMatch(/Bearer/)
  })

  it('is refused whatever the case of the scheme', async () => {
    const t = api('generic')
    const res = await t.app.inject({ url: '/api/me', headers: { authorization: `bEaReR ${t.token({ cnf })}` } })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'ERR_TOKEN_SENDER_CONSTRAINED' })
  })

  it('is refused with an mTLS binding (x5t#S256) too', async () => {
    const t = api('generic')
    const answer = await call(t, t.token({ cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } }))
    expectRefused(answer, 'ERR_TOKEN_SENDER_CONSTRAINED', /bound to a key/)
  })
})

describe('provider access-token markers', () => {
  describe('entra', () => {
    const entra = (claims: Record<string, unknown>): Record<string, unknown> => ({
      client_id: undefined,
      scope: undefined,
      ver: '2.0',
      ...claims
    })

    it('accepts azp + scp, appid + scp, azp + roles', async () => {
      const t = api('entra')
      expectAccepted(await call(t, t.token(entra({ azp: CLIENT_ID, scp: 'read:messages' }), { typ: 'JWT' })))
      expectAccepted(await call(t, t.token(entra({ appid: CLIENT_ID, scp: 'read:messages', ver: '1.0' }), { typ: 'JWT' })))
      expectAccepted(await call(t, t.token(entra({ azp: CLIENT_ID, roles: ['read:messages'] }), { typ: 'JWT' })))
    })

    it('refuses a token without azp or appid', async () => {
      const t = api('entra')
      const answer = await call(t, t.token(entra({ scp: 'read:messages' }), { typ: 'JWT' }))
      expectRefused(answer, 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
      expect(answer.detail).toMatch(/"azp"\/"appid"/)
    })

    it('refuses a token without scp or roles', async () => {
      const t = api('entra')
      const answer = await call(t, t.token(entra({ azp: CLIENT_ID }), { typ: 'JWT' }))
      expectRefused(answer, 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
      expect(answer.detail).toMatch(/"scp" or "roles"/)
    })

    it('is the preset that adds the rule: the same token passes under generic', async () => {
      const t = api('generic')
      expectAccepted(await call(t, t.token(entra({ scp: 'read:messages' }), { typ: 'JWT' })))
    })
  })

  describe('okta', () => {
    it('accepts a token with cid and refuses one without', async () => {
      const t = api('okta')
      expectAccepted(await call(t, t.token({ cid: CLIENT_ID, client_id: undefined, scp: ['read:messages'] }, { typ: undefined })))
      const answer = await call(t, t.token({ client_id: undefined, scp: ['read:messages'] }, { typ: undefined }))
      expectRefused(answer, 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
      expect(answer.detail).toContain('"cid"')
    })
  })

  describe('keycloak', () => {
    it('accepts payload typ Bearer and refuses a token without it', async () => {
      const t = api('keycloak')
      expectAccepted(await call(t, t.token({ typ: 'Bearer', azp: CLIENT_ID }, { typ: 'JWT' })))
      const answer = await call(t, t.token({ azp: CLIENT_ID }, { typ: 'JWT' }))
      expectRefused(answer, 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
      expect(answer.detail).toContain('"Bearer"')
    })
  })

  describe('cognito', () => {
    const cognito = (claims: Record<string, unknown> = {}): Record<string, unknown> => ({
      aud: undefined,
      token_use: 'access',
      username: 'jane',
      ...claims
    })

    it('accepts an access token without aud, its client_id in AUTH_CLIENT_IDS', async () => {
      const t = api('cognito')
      const answer = await call(t, t.token(cognito(), { typ: undefined }))
      expectAccepted(answer)
      expect(answer.body).toMatchObject({ clientId: CLIENT_ID })
    })

    it('accepts an access token whose aud names this API', async () => {
      const t = api('cognito')
      expectAccepted(await call(t, t.token(cognito({ aud: AUDIENCE }), { typ: undefined })))
    })

    it('refuses a token without token_use access', async () => {
      const t = api('cognito')
      const answer = await call(t, t.token(cognito({ token_use: undefined }), { typ: undefined }))
      expectRefused(answer, 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN)
      expect(answer.detail).toContain('"token_use"')
    })

    it('refuses a client_id that AUTH_CLIENT_IDS does not list', async () => {
      const t = api('cognito')
      const answer = await call(t, t.token(cognito({ client_id: 'another-app-client' }), { typ: undefined }))
      expect(answer.status).toBe(401)
      expect(answer.error).toBe('invalid_token')
      expect(answer.code).toBe('ERR_CLIENT_NOT_ALLOWED')
    })

    it('refuses an access token with neither aud nor client_id', async () => {
      const t = api('cognito')
      const answer = await call(t, t.token(cognito({ client_id: undefined }), { typ: undefined }))
      expect(answer.status).toBe(401)
      expect(answer.error).toBe('invalid_token')
    })

    it('does not let a token without aud through under generic', async () => {
      const t = api('generic')
      const answer = await call(t, t.token(cognito(), { typ: undefined }))
      expect(answer.status).toBe(401)
      expect(answer.code).toBe('ERR_JWT_CLAIM_MISSING')
    })
  })
})

describe('preset scope claims decide POST /api/messages (write:messages)', () => {
  const post = (t: TestApi, token: string): Promise<Answer> =>
    call(t, token, { method: 'POST', url: '/api/messages', body: { text: 'hello' } })

  function expectForbidden(answer: Answer): void {
    expect(answer.status, answer.detail).toBe(403)
    expect(answer.www).toMatch(/error="insufficient_scope"/)
    expect(answer.www).toMatch(/scope="write:messages"/)
  }

  it('auth0: permissions', async () => {
    const claims = { scope: 'openid profile', azp: CLIENT_ID, client_id: undefined }
    const t = api('auth0')
    expect((await post(t, t.token({ ...claims, permissions: ['read:messages', 'write:messages'] }, { typ: 'JWT' }))).status).toBe(201)
    expectForbidden(await post(t, t.token({ ...claims, permissions: ['read:messages'] }, { typ: 'JWT' })))
    // permissions mean nothing without the preset
    const g = api('generic')
    expectForbidden(await post(g, g.token({ ...claims, permissions: ['write:messages'] }, { typ: 'JWT' })))
  })

  it('okta: scp array', async () => {
    const claims = { scope: undefined, cid: CLIENT_ID, client_id: undefined }
    const t = api('okta')
    expect((await post(t, t.token({ ...claims, scp: ['openid', 'write:messages'] }, { typ: undefined }))).status).toBe(201)
    expectForbidden(await post(t, t.token({ ...claims, scp: ['openid', 'read:messages'] }, { typ: undefined })))
  })

  it('entra: scp string and roles', async () => {
    const claims = { scope: undefined, azp: CLIENT_ID, client_id: undefined }
    const t = api('entra')
    expect((await post(t, t.token({ ...claims, scp: 'read:messages write:messages' }, { typ: 'JWT' }))).status).toBe(201)
    expect((await post(t, t.token({ ...claims, roles: ['write:messages'] }, { typ: 'JWT' }))).status).toBe(201)
    expectForbidden(await post(t, t.token({ ...claims, scp: 'read:messages' }, { typ: 'JWT' })))
    expectForbidden(await post(t, t.token({ ...claims, roles: ['read:messages'] }, { typ: 'JWT' })))
    const g = api('generic')
    expectForbidden(await post(g, g.token({ ...claims, roles: ['write:messages'] }, { typ: 'JWT' })))
  })

  it("keycloak: realm_access.roles and resource_access[this API].roles, not another client's roles", async () => {
    const claims = { scope: 'openid profile', typ: 'Bearer', azp: CLIENT_ID, client_id: undefined }
    const t = api('keycloak')
    expect((await post(t, t.token({ ...claims, realm_access: { roles: ['write:messages'] } }, { typ: 'JWT' }))).status).toBe(201)
    expect(
      (await post(t, t.token({ ...claims, resource_access: { [AUDIENCE]: { roles: ['write:messages'] } } }, { typ: 'JWT' }))).status
    ).toBe(201)
    expectForbidden(await post(t, t.token({ ...claims, realm_access: { roles: ['read:messages'] } }, { typ: 'JWT' })))
    expectForbidden(await post(t, t.token({ ...claims, resource_access: { account: { roles: ['write:messages'] } } }, { typ: 'JWT' })))
    const g = api('generic')
    expectForbidden(await post(g, g.token({ ...claims, realm_access: { roles: ['write:messages'] } }, { typ: 'JWT' })))
  })

  it.each([
    [{ realm_access: { roles: 'write:messages other' } }, 201], // a space-separated string reads like a scope string
    [{ realm_access: 'write:messages' }, 403],
    [{ realm_access: ['write:messages'] }, 403],
    [{ realm_access: { roles: [['write:messages'], { role: 'write:messages' }] } }, 403],
    [{ realm_access: null }, 403],
    [{ resource_access: { [AUDIENCE]: 'write:messages' } }, 403],
    [{ resource_access: [{ roles: ['write:messages'] }] }, 403],
    [{ resource_access: null }, 403]
  ])('keycloak: roles shaped %j give %i and break nothing', async (extra, status) => {
    const t = api('keycloak')
    const answer = await post(t, t.token({ scope: 'openid', typ: 'Bearer', azp: CLIENT_ID, ...extra }, { typ: 'JWT' }))
    if (status === 403) expectForbidden(answer)
    else expect(answer.status).toBe(status)
  })
})

describe('verification comes first', () => {
  it('an ID token with a bad signature is refused for its signature, not classified', async () => {
    const t = api('generic')
    const token = t.token({ nonce: 'n', at_hash: 'x' }, { typ: 'JWT' })
    const [h, p] = token.split('.')
    const answer = await call(t, `${h ?? ''}.${p ?? ''}.${Buffer.alloc(256, 7).toString('base64url')}`)
    expect(answer.status).toBe(401)
    expect(answer.code).toBe('ERR_JWS_SIGNATURE_INVALID')
  })

  it('duplicate claim names are refused before anything reads them', async () => {
    const t = api('generic')
    const claims = t.claims()
    const body = JSON.stringify(claims).slice(0, -1)
    const token = signRaw(t.key, JSON.stringify({ alg: t.key.alg, typ: 'at+jwt', kid: t.key.kid }), `${body},"typ":"ID","typ":"Bearer"}`)
    const answer = await call(t, token)
    expect(answer.status).toBe(401)
    expect(answer.code).toBe('ERR_TOKEN_MALFORMED')
  })
})
