/**
 * Every error body is application/problem+json with a stable `code`, whatever raised it: the
 * token pipeline, a route, the framework (routing, body parsing, validation, limits), the
 * HTTP parser, readiness, the drain, or a bug. No body carries a stack trace or an error's
 * own message.
 */
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { InjectOptions } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config.js'
import { AuthError, CodedError, ERRORS, isAuthErrorCode, sentenceOf, type ErrorCode } from '../../src/errors.js'
import { problem, PROBLEM_CODES } from '../../src/http/problem.js'
import { KeyRejected } from '../../src/keys/jwk-import.js'
import { MessageLimitReached } from '../../src/messages/message-store.js'
import { FetchFailed } from '../../src/remote/fetch-json.js'
import { StrictJsonError } from '../../src/token/strict-json.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

const SECRET_MESSAGE = 'database password hunter2 in /srv/app/src/secret.ts:42'

interface Case {
  name: string
  request: (api: TestApi) => InjectOptions
  status: number
  code: string
}

const bearer = (api: TestApi, scope = 'read:messages write:messages'): Record<string, string> => ({
  authorization: `Bearer ${api.token({ scope })}`
})

const cases: Case[] = [
  { name: 'no credentials', request: () => ({ url: '/api/me' }), status: 401, code: 'ERR_NO_CREDENTIALS' },
  {
    name: 'an expired token',
    request: (api) => ({ url: '/api/me', headers: { authorization: `Bearer ${api.token({ exp: api.now() - 60 })}` } }),
    status: 401,
    code: 'ERR_JWT_EXPIRED'
  },
  {
    name: 'a token in the query',
    request: (api) => ({ url: `/api/me?access_token=${api.token()}` }),
    status: 400,
    code: 'ERR_TOKEN_IN_QUERY'
  },
  {
    name: 'a missing scope',
    request: (api) => ({ url: '/api/messages', headers: bearer(api, 'openid') }),
    status: 403,
    code: 'ERR_INSUFFICIENT_SCOPE'
  },
  { name: 'an unknown route', request: () => ({ url: '/api/nothing-here' }), status: 404, code: 'ERR_ROUTE_NOT_FOUND' },
  {
    name: 'an unknown method on a known path',
    request: () => ({ method: 'PATCH', url: '/api/messages' }),
    status: 404,
    code: 'ERR_ROUTE_NOT_FOUND'
  },
  {
    name: 'no such message',
    request: (api) => ({ url: '/api/messages/00000000-0000-0000-0000-000000000000', headers: bearer(api) }),
    status: 404,
    code: 'ERR_MESSAGE_NOT_FOUND'
  },
  {
    name: 'deleting no such message',
    request: (api) => ({ method: 'DELETE', url: '/api/messages/nope', headers: bearer(api) }),
    status: 404,
    code: 'ERR_MESSAGE_NOT_FOUND'
  },
  {
    name: 'a body that fails validation',
    request: (api) => ({ method: 'POST', url: '/api/messages', headers: bearer(api), payload: { text: '' } }),
    status: 400,
    code: 'ERR_VALIDATION'
  },
  {
    name: 'an unknown member',
    request: (api) => ({ method: 'POST', url: '/api/messages', headers: bearer(api), payload: { text: 'x', admin: true } }),
    status: 400,
    code: 'ERR_VALIDATION'
  },
  {
    name: 'malformed JSON',
    request: (api) => ({
      method: 'POST',
      url: '/api/messages',
      headers: { ...bearer(api), 'content-type': 'application/json' },
      payload: `{"text": "${SECRET_MESSAGE}"`
    }),
    status: 400,
    code: 'ERR_MALFORMED_BODY'
  },
  {
    name: 'an empty JSON body',
    request: (api) => ({
      method: 'POST',
      url: '/api/messages',
      headers: { ...bearer(api), 'content-type': 'application/json' },
      payload: ''
    }),
    status: 400,
    code: 'ERR_MALFORMED_BODY'
  },
  { name: 'a path that does not decode', request: () => ({ url: '/api/messages/%E0%A4%A' }), status: 400, code: 'ERR_BAD_REQUEST' },
  {
    name: 'a body over the limit',
    request: (api) => ({ method: 'POST', url: '/api/messages', headers: bearer(api), payload: { text: 'x'.repeat(1_100_000) } }),
    status: 413,
    code: 'ERR_BODY_TOO_LARGE'
  },
  {
    name: 'a path parameter over the limit',
    request: () => ({ url: `/api/messages/${'a'.repeat(200)}` }),
    status: 414,
    code: 'ERR_URI_TOO_LONG'
  },
  {
    name: 'a content type no route parses',
    request: (api) => ({
      method: 'POST',
      url: '/api/messages',
      headers: { ...bearer(api), 'content-type': 'application/xml' },
      payload: '<text>hello</text>'
    }),
    status: 415,
    code: 'ERR_UNSUPPORTED_MEDIA_TYPE'
  },
  { name: 'a failure in a handler', request: () => ({ url: '/test/fails' }), status: 500, code: 'ERR_INTERNAL' }
]

/** The common shape of every error answer. */
function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code: string): void {
  expect(res.statusCode, res.body).toBe(status)
  expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8')
  const body = JSON.parse(res.body) as Record<string, unknown>
  expect(body).toEqual({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String), code })
  expect(PROBLEM_CODES.map((entry) => entry.code)).toContain(code)
  expect(res.body).not.toMatch(/\bat [\w.<>]+ \(|node_modules|\.ts:\d+|hunter2|FST_ERR/)
}

describe('a problem body with a stable code for every error', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi({
      instrument: (app) => {
        app.get('/test/fails', { config: { public: true } }, async () => {
          throw new Error(SECRET_MESSAGE)
        })
      }
    })
  })
  afterAll(async () => {
    await api.close()
  })

  it.each(cases)('$name → $status $code', async ({ request, status, code }) => {
    expectProblem(await api.app.inject(request(api)), status, code)
  })

  it('a caller over the message limit → 409 ERR_MESSAGE_LIMIT', async () => {
    const headers = { authorization: `Bearer ${api.token({ sub: 'prolific' })}` }
    let res = await api.app.inject({ method: 'POST', url: '/api/messages', headers, payload: { text: 'x' } })
    for (let created = 0; res.statusCode === 201 && created < 5000; created++) {
      res = await api.app.inject({ method: 'POST', url: '/api/messages', headers, payload: { text: 'x' } })
    }
    expectProblem(res, 409, 'ERR_MESSAGE_LIMIT')
  })
})

describe('readiness before the keys are loaded', () => {
  it('→ 503 ERR_NOT_READY with Retry-After', async () => {
    const api = await startTestApi({ waitForKeys: false })
    try {
      const res = await api.app.inject({ url: '/health/ready' })
      expectProblem(res, 503, 'ERR_NOT_READY')
      expect(res.headers['retry-after']).toBe('5')
    } finally {
      await api.close()
    }
  })
})

/** Raw HTTP/1.1 on a socket: what reaches the server before Fastify sees a request. */
function exchange(port: number, write: (send: (text: string) => void) => void | Promise<void>): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      answer += chunk
    })
    socket.on('close', () => resolve(answer))
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') resolve(answer)
      else reject(error)
    })
    socket.on('connect', () => {
      Promise.resolve(write((text) => socket.write(text))).catch(reject)
    })
  })
}

/** Status, headers and body of a raw HTTP/1.1 answer. */
function parse(raw: string): { statusCode: number; headers: Record<string, string>; body: string } {
  const [head = '', body = ''] = raw.split('\r\n\r\n')
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()])
  )
  return { statusCode: Number(statusLine.split(' ')[1]), headers, body }
}

describe('errors before Fastify has a request, on a real socket', () => {
  let api: TestApi
  let port: number
  beforeAll(async () => {
    api = await startTestApi()
    await api.app.listen({ port: 0, host: '127.0.0.1' })
    port = (api.app.server.address() as AddressInfo).port
  })
  afterAll(async () => {
    await api.close()
  })

  it('headers over the limit → 431 ERR_HEADERS_TOO_LARGE', async () => {
    const raw = await exchange(port, (send) => send(`GET /api/me HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n`))
    expectProblem(parse(raw), 431, 'ERR_HEADERS_TOO_LARGE')
  })

  it('a malformed request line → 400 ERR_BAD_REQUEST', async () => {
    const raw = await exchange(port, (send) => send('NOT A REQUEST\r\n\r\n'))
    expectProblem(parse(raw), 400, 'ERR_BAD_REQUEST')
  })

  it('a request that arrives while the server drains → 503 ERR_SHUTTING_DOWN with Retry-After', async () => {
    let closed: Promise<void> | undefined
    const received = new Promise<void>((resolve) => {
      api.app.server.once('connection', (socket) => {
        socket.once('data', () => resolve())
      })
    })
    const raw = await exchange(port, async (send) => {
      // the request has begun (so the connection is not idle) when the server starts closing
      send('GET /health/live HTTP/1.1\r\nHost: x\r\n')
      await received
      closed = api.app.close()
      // the drain has begun once the server stops listening (after the preClose hooks)
      while (api.app.server.listening) await new Promise((resolve) => setTimeout(resolve, 5))
      send('\r\n')
    })
    await closed
    const res = parse(raw)
    expectProblem(res, 503, 'ERR_SHUTTING_DOWN')
    expect(res.headers['retry-after']).toBe('1')
    expect(res.headers.connection).toBe('close')
  })
})

describe('the error catalogue (src/errors.ts)', () => {
  const codes = Object.keys(ERRORS) as ErrorCode[]

  it('lists every code once, each with a status, a title and a sentence; the OpenAPI table lists the same codes', () => {
    expect(new Set(codes).size).toBe(codes.length)
    expect(PROBLEM_CODES.map((entry) => entry.code)).toEqual(codes)
    for (const code of codes) {
      const { status, title } = ERRORS[code]
      expect(code).toMatch(/^ERR_[A-Z0-9_]+$/)
      expect(status).toBeGreaterThanOrEqual(400)
      expect(title).not.toBe('')
      expect(sentenceOf(code as 'ERR_INTERNAL')).toMatch(/\S/) // with no parts: a sentence, never a crash
    }
  })

  it('gives every refusal of the credentials an RFC 6750 or RFC 9449 error code, except no credentials and 503s', () => {
    const refusals = codes.filter(isAuthErrorCode)
    expect(refusals).toContain('ERR_JWT_EXPIRED')
    expect(refusals).not.toContain('ERR_ROUTE_NOT_FOUND')
    for (const code of refusals) {
      const { status, oauthError } = ERRORS[code]
      expect([400, 401, 403, 503]).toContain(status)
      // no credentials this API accepts (none, or a scheme it does not take): a challenge without an error
      if (code === 'ERR_NO_CREDENTIALS' || code === 'ERR_DPOP_NOT_ACCEPTED' || status === 503) expect(oauthError).toBeUndefined()
      else if (code.startsWith('ERR_DPOP_PROOF') || code === 'ERR_DPOP_MULTIPLE_PROOFS' || code === 'ERR_DPOP_KEY_MISMATCH')
        expect(oauthError).toBe('invalid_dpop_proof')
      else if (code === 'ERR_DPOP_NONCE_REQUIRED') expect(oauthError).toBe('use_dpop_nonce')
      else expect(oauthError).toMatch(/^(invalid_request|invalid_token|insufficient_scope)$/)
    }
  })

  it('words a sentence from the variable parts only, and a problem body from the table', () => {
    const error = new AuthError('ERR_JWT_CLAIM_MISSING', { claim: 'aud', reason: 'aud missing' })
    expect(error).toMatchObject({
      code: 'ERR_JWT_CLAIM_MISSING',
      status: 401,
      claim: 'aud',
      reason: 'aud missing',
      description: 'The access token has no "aud" claim.'
    })
    expect(error.message).toBe(error.description)
    expect(problem(error)).toEqual({
      type: 'https://www.rfc-editor.org/rfc/rfc6750#section-3.1',
      title: 'Invalid access token',
      status: 401,
      detail: error.description,
      code: 'ERR_JWT_CLAIM_MISSING'
    })
    expect(problem('ERR_ROUTE_NOT_FOUND', { method: 'GET' }).detail).toBe('No route serves GET at this path.')
    expect(problem('ERR_ROUTE_NOT_FOUND').detail).toBe('No such route.')
    expect(problem('ERR_NO_CREDENTIALS').type).toBe('https://www.rfc-editor.org/rfc/rfc6750#section-3')
    expect(problem('ERR_KEYS_UNAVAILABLE')).toMatchObject({ type: 'about:blank', title: 'Service Unavailable', status: 503 })
  })

  it('gives every error class a name and a code', () => {
    const errors: CodedError[] = [
      new AuthError('ERR_JWT_EXPIRED'),
      new MessageLimitReached(3),
      new KeyRejected('weak'),
      new FetchFailed('down'),
      new StrictJsonError('duplicate member'),
      new ConfigError('PORT', 'must be a number')
    ]
    const seen = new Set<string>()
    for (const error of errors) {
      expect(error).toBeInstanceOf(CodedError)
      expect(error.name).toBe(error.constructor.name)
      expect(error.code).toMatch(/^ERR_[A-Z0-9_]+$/)
      seen.add(error.code)
    }
    expect(seen.size).toBe(errors.length)
    // the internal codes never name a client-facing problem
    for (const error of errors.slice(2)) expect(Object.hasOwn(ERRORS, error.code)).toBe(false)
    expect(problem(new MessageLimitReached(3))).toMatchObject({
      status: 409,
      code: 'ERR_MESSAGE_LIMIT',
      detail: 'at most 3 messages per user'
    })
  })
})
