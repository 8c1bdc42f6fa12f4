/**
 * Red-team findings against the gate (one `it` per finding), kept as regression tests: each
 * failed on the code as the red team reviewed it and passes with its fix. None of them made a
 * protected handler run without a valid token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { compactVerify, importJWK } from 'jose'
import { buildApp } from '../../app.js'
import { loadConfig } from '../../src/config.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'
import { makeKey } from '../helpers/keys.js'
import { b64url, signBytes, signJwt } from '../helpers/jwt-sign.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'

const ORIGIN = 'https://app.example.test'

describe('red-team findings', () => {
  const key = makeKey('RS256')
  const lines: string[] = []
  let issuer: TestIssuer
  let app: FastifyInstance
  let token: string
  const logged = async (run: () => Promise<unknown>): Promise<string> => {
    const before = lines.length
    await run()
    return lines.slice(before).join('\n')
  }

  beforeAll(async () => {
    issuer = await startTestIssuer({ keys: [key] })
    app = await buildApp({
      config: loadConfig({ AUTH_ISSUER: issuer.url, AUTH_AUDIENCE: 'https://api.example.test', LOG_LEVEL: 'info', CORS_ORIGINS: ORIGIN }),
      logStream: {
        write: (line: string) => {
          lines.push(line)
        }
      }
    })
    await app.ready()
    await app.keyStore.start()
    const now = Math.floor(Date.now() / 1000)
    token = signJwt(key, {
      iss: issuer.url,
      aud: 'https://api.example.test',
      sub: 'u',
      client_id: 'c',
      exp: now + 300,
      scope: 'read:messages'
    })
  })
  afterAll(async () => {
    await app.close()
    await issuer.close()
  })

  // F1 — contract violation + token in logs. hasQueryToken() matches the literal bytes
  // "access_token", but Fastify's query parser (and any client library) decodes the name.
  it('F1a: a percent-encoded access_token query name plus a header is two credentials (400), not 200', async () => {
    for (const name of ['access%5Ftoken', '%61ccess_token', 'access%5ftoken']) {
      const res = await app.inject({ url: `/api/me?${name}=${token}`, headers: { authorization: `Bearer ${token}` } })
      expect(res.statusCode, name).toBe(400) // got 200: the handler ran with a second credential in the URL
      expect(res.json().code, name).toBe('ERR_MULTIPLE_CREDENTIALS')
    }
  })

  it('F1b: a percent-encoded access_token query name alone is a token in the query (400 invalid_request), not 401', async () => {
    const res = await app.inject({ url: `/api/me?access%5Ftoken=${token}` })
    expect(res.statusCode).toBe(400) // got 401 ERR_NO_CREDENTIALS
    expect(res.json().code).toBe('ERR_TOKEN_IN_QUERY')
  })

  it('F1c: ...and the token never reaches the logs (safeUrl misses the encoded name)', async () => {
    const out = await logged(() => app.inject({ url: `/api/me?access%5Ftoken=${token}` }))
    expect(out).not.toContain(token.split('.')[2]) // got: the whole token in "incoming request" req.url
  })

  // F2 — contract violation: the 404 problem's detail echoes the raw path. A token put in the
  // path (";access_token=", as old servlet-style clients do, or a mistaken path segment) comes
  // back in the body and is written to the logs (safeUrl only redacts after "?" or "&").
  it('F2: an unknown route never echoes a token in the 404 body or the logs', async () => {
    const sig = token.split('.')[2] as string
    for (const url of [`/api/me;access_token=${token}`, `/api/${token}`]) {
      let body = ''
      const out = await logged(async () => {
        body = (await app.inject({ url })).body
      })
      expect(body, url).not.toContain(sig) // got: "detail":"No route GET /api/me;access_token=eyJ…<whole token>."
      expect(out, url).not.toContain(sig) // got: the whole token in req.url
    }
  })

  // F3 — hygiene (contract: never a secret in logs): with no scheme, the credential itself is
  // taken for the scheme and its first 20 characters are logged as the refusal reason.
  it('F3: a scheme-less Authorization value (a bare API key or token) is not copied into the logs', async () => {
    const secret = 'sk_live_0123456789abcdefSECRET'
    const out = await logged(() => app.inject({ url: '/api/me', headers: { authorization: secret } }))
    expect(out).not.toContain(secret.slice(0, 12)) // got: "reason":"unsupported scheme sk_live_0123456789ab"
  })

  // F4 — contract violation: an OPTIONS from an allowed origin without
  // Access-Control-Request-Method was answered by @fastify/cors (strictPreflight) before the
  // gate, as a text/plain 400 with no problem body and no code. It is now answered as a
  // preflight: an empty 204 with the CORS headers, no error body at all, no handler.
  it('F4: OPTIONS from an allowed Origin without Access-Control-Request-Method is answered as a preflight, not a plain-text error', async () => {
    const res = await app.inject({ method: 'OPTIONS', url: '/api/me', headers: { origin: ORIGIN } })
    expect(res.statusCode).toBe(204)
    expect(res.body).toBe('')
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN)
  })
})

describe('red-team findings (own app per case)', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi()
  })
  afterAll(async () => {
    await api.close()
  })

  // F5 — hygiene: RFC 6750 §2.1 is `"Bearer" 1*SP b64token`. String.prototype.trim() also
  // strips U+00A0 (byte 0xA0 in a latin1-decoded header), and a tab is taken as the separator,
  // so malformed credentials are accepted as the valid token. Not a bypass (the token is valid).
  it('F5: NBSP around the token or a tab separator is a malformed credential, not accepted', async () => {
    const token = api.token()
    for (const value of [`Bearer ${token}\u00a0`, `Bearer \u00a0${token}`, `Bearer\t${token}`]) {
      const res = await api.app.inject({ url: '/api/me', headers: { authorization: value } })
      expect(res.statusCode, JSON.stringify(value.replace(token, '<token>'))).not.toBe(200) // got 200
    }
  })

  // F8 — hygiene: the gate's form parser (added to spot a body token) makes every route with
  // a body accept application/x-www-form-urlencoded, which the OpenAPI document does not offer.
  it('F8: an authenticated form-encoded POST /api/messages (no token in it) is 415, as for any undocumented media type', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { authorization: `Bearer ${api.token()}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'text=hi'
    })
    expect(res.statusCode).toBe(415) // got 201: a message was created from a form body
  })
})

describe('red-team findings (token formats)', () => {
  // F6 — contract violation (low): looksLikeCompactJws() requires the token to start with "ey",
  // i.e. a header beginning with '{"' or '{ '. A valid JWS whose header JSON starts with
  // '{\n' / '{\t' / '{\r' (base64url "ewo"/"ewk"/"ew0") is taken for an opaque token: refused with
  // the misleading "not a JWT", and with AUTH_TOKEN_FORMATS=jwt,opaque it is POSTed to the
  // introspection endpoint ("JWTs are never sent to introspection").
  it('F6: a JWS whose header JSON starts with whitespace is handled as a JWT, never introspected', async () => {
    const api = await startTestApi({
      env: {
        AUTH_TOKEN_FORMATS: 'jwt,opaque',
        AUTH_INTROSPECTION_CLIENT_ID: 'api',
        AUTH_INTROSPECTION_CLIENT_SECRET: 'introspection-secret'
      }
    })
    try {
      const introspected: string[] = []
      api.issuer.onIntrospect = (req) => {
        introspected.push(req.token)
        return { body: { active: false } }
      }
      const header = `{\n"alg":"RS256","typ":"at+jwt","kid":"${api.key.kid}"}`
      const input = `${b64url(header)}.${b64url(JSON.stringify(api.claims()))}`
      const jws = `${input}.${signBytes(api.key, input).toString('base64url')}`
      await compactVerify(jws, await importJWK(api.key.publicJwk as never, 'RS256')) // a valid JWS (jose agrees)
      const res = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${jws}` } })
      expect(introspected).toEqual([]) // got: the JWT was sent to the introspection endpoint
      expect(res.statusCode).toBe(200) // got 401 ERR_TOKEN_INACTIVE (ERR_TOKEN_NOT_JWT with formats=jwt)
    } finally {
      await api.close()
    }
  })
})
