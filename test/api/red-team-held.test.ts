/**
 * Red-team attempts that HELD against the gate (these pass). Every request here lacks a valid
 * token, or carries one in a way the contract refuses; none may reach a protected handler.
 */
import { connect, type AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { startTestApi, type TestApi } from '../helpers/test-api.js'
import { makeKey } from '../helpers/keys.js'
import { b64url, signBytes } from '../helpers/jwt-sign.js'

const ORIGIN = 'https://app.example.test'
const statuses = (text: string): number[] => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]))
const ID = '7f8b7a9e-2b1e-4d8e-9a57-0b3c1d2e3f40'
const calls: string[] = []
function spy(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const name = `${String(route.method)} ${route.url}`
    const handler = route.handler
    route.handler = function spied(this: FastifyInstance, request, reply) {
      calls.push(name)
      return handler.call(this, request, reply)
    }
  })
}
const protectedCalls = (): string[] => calls.filter((name) => name.includes('/api/'))

/** Writes `data` on one connection; resolves with everything read until close, `answers` responses (+50 ms), or `waitMs`. */
function raw(port: number, data: string | Buffer, waitMs = 3000, answers = 1): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(data)
    })
    let text = ''
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(text)
    }, waitMs)
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1')
      if (statuses(text).length >= answers)
        setTimeout(() => {
          clearTimeout(timer)
          socket.destroy()
          resolve(text)
        }, 50)
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(text)
    })
  })
}

describe('held', () => {
  let api: TestApi
  let port: number
  let token: string
  beforeAll(async () => {
    api = await startTestApi({
      env: { CORS_ORIGINS: ORIGIN },
      instrument: (app) => {
        spy(app)
        app.options('/api/forker', { config: { scopes: [] } }, async () => ({ secret: 'x' }))
      }
    })
    await api.app.listen({ port: 0, host: '127.0.0.1' })
    port = (api.app.server.address() as AddressInfo).port
    token = api.token()
  })
  afterAll(async () => {
    await api.close()
  })
  beforeEach(() => {
    calls.length = 0
  })

  it('odd URLs reach no protected handler unauthenticated (double slash, %2F, trailing slash, case, .., encoded letters, absolute-form)', async () => {
    const targets = [
      '/api//me',
      '/api%2Fme',
      '/api/me/',
      '/API/me',
      '/Api/Me',
      '/health/../api/me',
      '/api/messages/../me',
      '/api/m%65',
      '/api/messages/%2e%2e',
      `/api/messages/${'a'.repeat(300)}`,
      '/api/messages/%E0%A4%A',
      'http://evil.test/api/me',
      '/api/me#frag',
      '/api/me?a=1&a=2',
      '/api/me?ACCESS_TOKEN=x'
    ]
    for (const target of targets) {
      const [status] = statuses(await raw(port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`))
      expect([400, 401, 404, 414], target).toContain(status)
    }
    expect(protectedCalls()).toEqual([])
  })

  it('odd methods: lowercase, unknown, WebDAV, method-override headers, HEAD, OPTIONS', async () => {
    const requests = [
      'get /api/me HTTP/1.1',
      'FOO /api/me HTTP/1.1',
      'PROPFIND /api/me HTTP/1.1',
      'HEAD /api/me HTTP/1.1',
      'OPTIONS /api/me HTTP/1.1',
      'OPTIONS /api/forker HTTP/1.1',
      'OPTIONS * HTTP/1.1'
    ]
    for (const line of requests) {
      const [status] = statuses(await raw(port, `${line}\r\nHost: x\r\n\r\n`))
      expect([400, 401, 404], line).toContain(status)
    }
    for (const header of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override']) {
      const [status] = statuses(await raw(port, `POST /health/live HTTP/1.1\r\nHost: x\r\n${header}: GET\r\nContent-Length: 0\r\n\r\n`))
      expect(status).toBe(404)
    }
    expect(protectedCalls()).toEqual([])
  })

  it('two credentials are 400: two headers (any case), comma-joined, header + query, header + form body, all three', async () => {
    const cases: Array<[string, string]> = [
      ['two headers', `GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nauthorization: Bearer ${token}\r\n\r\n`],
      ['comma', `GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}, Bearer ${token}\r\n\r\n`],
      ['two tokens', `GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token} ${token}\r\n\r\n`],
      ['header+query', `GET /api/me?access_token=${token} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`],
      ['header+query no value', `GET /api/me?x&access_token HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`],
      [
        'header+body',
        `POST /api/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: Application/X-WWW-Form-Urlencoded ; charset=utf-8\r\nContent-Length: 24\r\n\r\ntext=a&access%5Ftoken=yy`
      ],
      [
        'header+body DELETE',
        `DELETE /api/messages/${ID} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\n\r\naccess_token=x`
      ],
      [
        'all three',
        `POST /api/messages?access_token=x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\n\r\naccess_token=x`
      ]
    ]
    for (const [name, request] of cases) expect(statuses(await raw(port, request))[0], name).toBe(400)
    expect(protectedCalls()).toEqual([])
  })

  it('odd bodies unauthenticated: chunked, CL larger than sent, gzip, multipart, none, slow form, body on GET: 400/401, never a handler', async () => {
    const head = (type: string, extra = ''): string => `POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\n${extra}`
    const cases: Array<[string, string, number]> = [
      ['chunked json', `${head('application/json', 'Transfer-Encoding: chunked\r\n')}\r\n5\r\n{"tex\r\n`, 401],
      [
        'chunked form token',
        `${head('application/x-www-form-urlencoded', 'Transfer-Encoding: chunked\r\n')}\r\nf\r\naccess_token=x&\r\n0\r\n\r\n`,
        400
      ],
      ['CL too big', `${head('application/json', 'Content-Length: 100000\r\n')}\r\n{"text":"a"}`, 401],
      ['gzip', `${head('application/json', 'Content-Encoding: gzip\r\nContent-Length: 3\r\n')}\r\n\x1f\x8b\x08`, 401],
      [
        'multipart',
        `${head('multipart/form-data; boundary=x', 'Content-Length: 60\r\n')}\r\n--x\r\nContent-Disposition: form-data; name="access_token"\r\n\r\ny\r\n--x--`,
        401
      ],
      ['no content type', 'POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\naccess_token=x', 401],
      ['slow form', `${head('application/x-www-form-urlencoded', 'Content-Length: 1000000\r\n')}\r\ntext=a&`, 401],
      [
        'GET with form token',
        'GET /api/me HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\n\r\naccess_token=x',
        401
      ]
    ]
    for (const [name, request, expected] of cases) expect(statuses(await raw(port, request))[0], name).toBe(expected)
    expect(protectedCalls()).toEqual([])
  })

  it('odd headers: obs-fold, NUL, space before colon, huge header / URL are answered as problem+json before routing', async () => {
    const cases = [
      `GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n ${token}\r\n\r\n`,
      `GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\0\r\n\r\n`,
      `GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization : Bearer ${token}\r\n\r\n`,
      `GET /api/me HTTP/1.1\r\nHost: x\r\nX-A: ${'a'.repeat(20000)}\r\n\r\n`,
      `GET /api/me?${'a'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      'POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
    ]
    for (const request of cases) {
      const text = await raw(port, request)
      expect([400, 431]).toContain(statuses(text)[0])
      expect(text).toContain('application/problem+json')
    }
    expect(protectedCalls()).toEqual([])
  })

  it('pipelining: no state crosses requests on one keep-alive connection, whatever came first (form peek included)', async () => {
    const valid = `GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`
    const none = 'GET /api/me HTTP/1.1\r\nHost: x\r\n\r\n'
    const big = `text=a&${'b'.repeat(40000)}`
    const formNone = `POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${big.length}\r\n\r\n${big}`
    const formToken = `POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${15 + big.length}\r\n\r\naccess_token=x&${big}`
    const bodyIsRequest = `POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${valid.length}\r\n\r\n${valid}`
    expect(statuses(await raw(port, valid + none + valid + none, 3000, 4))).toEqual([200, 401, 200, 401])
    expect(statuses(await raw(port, none + valid, 3000, 2))).toEqual([401, 200])
    expect(statuses(await raw(port, formNone + none + valid, 3000, 3))).toEqual([401, 401, 200])
    expect(statuses(await raw(port, formToken + none, 3000, 2))).toEqual([400, 401])
    expect(statuses(await raw(port, bodyIsRequest + none, 1500, 3))).toEqual([401, 401]) // the body is never parsed as a request (waits for a third answer that never comes)
    expect(calls.filter((name) => name === 'GET /api/me').length).toBe(4)
  })

  it('tokens: other audience/issuer, expired, future nbf/iat, ID token, alg none, HS256 confusion, embedded jwk/jku, crit, cnf, unknown kid', async () => {
    const other = makeKey('RS256')
    const unsigned = `${b64url(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${b64url(JSON.stringify(api.claims()))}.`
    const hsHeader = b64url(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: api.key.kid }))
    const hsInput = `${hsHeader}.${b64url(JSON.stringify(api.claims()))}`
    const confusion = `${hsInput}.${signBytes(api.key, hsInput, 'HS256').toString('base64url')}`
    const tokens: Record<string, string> = {
      aud: api.token({ aud: 'https://other.example' }),
      iss: api.token({ iss: `${api.issuer.url}/` }),
      expired: api.token({ exp: api.now() - 10 }),
      nbf: api.token({ nbf: api.now() + 100 }),
      iat: api.token({ iat: api.now() + 100 }),
      noExp: api.token({ exp: undefined }),
      idToken: api.token({ aud: 'test-client', nonce: 'n', at_hash: 'x' }, { typ: 'JWT' }),
      none: unsigned,
      confusion,
      jwk: api.token({}, { kid: undefined, jwk: other.publicJwk }, other),
      jku: api.token({}, { jku: 'http://127.0.0.1:1/jwks' }, other),
      crit: api.token({}, { crit: ['exp'] }),
      cnf: api.token({ cnf: { jkt: 'x' } }),
      dpopTyp: api.token({}, { typ: 'dpop+jwt' }),
      proto: api.token({}, { kid: '__proto__' }, other)
    }
    for (const [name, bad] of Object.entries(tokens)) {
      const res = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${bad}` } })
      expect(res.statusCode, name).toBe(401)
      expect(res.headers['www-authenticate'], name).toMatch(/error="invalid_token"/)
    }
    expect(protectedCalls()).toEqual([])
  })

  it('the verified-token cache serves only the exact token, and never past exp', async () => {
    const cached = api.token({ exp: api.now() + 2 })
    for (let i = 0; i < 3; i++)
      expect((await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${cached}` } })).statusCode).toBe(200)
    const flip = cached.endsWith('A') ? 'B' : 'A'
    for (const value of [
      `Bearer ${cached}.`,
      `Bearer ${cached}=`,
      `Bearer x${cached}`,
      `Bearer ${cached},`,
      `Bearer ${cached.slice(0, -1)}${flip}`,
      `Bearer ${cached}\u0085`
    ]) {
      expect((await api.app.inject({ url: '/api/me', headers: { authorization: value } })).statusCode).not.toBe(200)
    }
    await new Promise((resolve) => setTimeout(resolve, 2000 + 5000 + 200)) // exp + clock tolerance
    const res = await api.app.inject({ url: '/api/me', headers: { authorization: `bearer ${cached}` } })
    expect(res.statusCode).toBe(401)
    expect(res.json().code).toBe('ERR_JWT_EXPIRED')
  }, 15_000)

  it('CORS preflight never reaches a handler or returns data, even on a protected OPTIONS route', async () => {
    for (const url of ['/api/me', '/api/forker', '/api/messages', '/nope']) {
      const res = await api.app.inject({
        method: 'OPTIONS',
        url,
        headers: { origin: ORIGIN, 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'authorization' }
      })
      expect(res.statusCode, url).toBe(204)
      expect(res.body).toBe('')
    }
    const foreign = await api.app.inject({
      method: 'OPTIONS',
      url: '/api/forker',
      headers: { origin: 'https://evil.test', 'access-control-request-method': 'GET' }
    })
    expect(foreign.statusCode).toBe(401)
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined()
    expect(protectedCalls()).toEqual([])
  })
})

describe('held: draining', () => {
  it('an answer in flight when the drain begins closes its kept-alive connection: the request pipelined behind it reaches no handler', async () => {
    calls.length = 0
    const api = await startTestApi({ instrument: spy })
    await api.app.listen({ port: 0, host: '127.0.0.1' })
    const port = (api.app.server.address() as AddressInfo).port
    const token = api.token()
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1')
    })
    let ended = false
    socket.once('end', () => {
      ended = true
    })
    await new Promise((resolve) => socket.once('connect', resolve))
    const body = '{"text":"hello"}'
    // an authenticated request in flight (its body not complete) keeps the connection busy
    socket.write(
      `POST /api/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 4)}`
    )
    await new Promise((resolve) => setTimeout(resolve, 200))
    const closing = api.app.close()
    await new Promise((resolve) => setTimeout(resolve, 200))
    socket.write(`${body.slice(4)}GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    socket.destroy()
    await closing
    await api.issuer.close()
    // the answer in flight, and no other: it closed the connection, and the pipelined GET (sent
    // after the drain began) was neither answered nor handled
    expect(statuses(text)).toEqual([201])
    expect(text.toLowerCase()).toContain('\r\nconnection: close\r\n')
    expect(ended).toBe(true) // the server closed it, before the test did
    expect(calls).toEqual(['POST /api/messages'])
  })
})
