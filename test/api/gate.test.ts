/**
 * The gate's guarantee, proven over the app's own route table rather than case by case: for
 * every protected route (the app's, and routes added the documented way that never read the
 * caller), every method it serves plus HEAD and OPTIONS, and a matrix of request shapes, no
 * handler runs without a verified token, and the answer is the contract's 400 or 401. A
 * route added tomorrow is covered without anyone writing a test for it.
 */
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance, RouteOptions } from 'fastify'
import fc from 'fast-check'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { GatedRoute } from '../../plugins/auth.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

/** Handler calls by "METHOD url", counted outside everything the gate installs. */
const calls = new Map<string, number>()
const totalCalls = (): number => [...calls.values()].reduce((a, b) => a + b, 0)

/** Counts every handler call; registered after the gate's own onRoute hook, so it wraps the gate's handler guard too. */
function spyOnHandlers(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const name = `${String(route.method)} ${route.url}`
    const handler = route.handler
    route.handler = function spied(this: FastifyInstance, request, reply) {
      calls.set(name, (calls.get(name) ?? 0) + 1)
      return handler.call(this, request, reply)
    }
  })
}

/** Routes a forker adds "the documented way": scopes declared, the caller never read, data returned. */
function addForkerRoutes(app: FastifyInstance): void {
  app.get('/api/forker/report', { config: { scopes: ['read:messages'] } }, async () => ({ secret: 'quarterly numbers' }))
  app.post('/api/forker/report', { config: { scopes: ['write:messages'] } }, async () => ({ secret: 'written' }))
  app.route({
    method: ['PUT', 'PATCH'],
    url: '/api/forker/report/:id',
    config: { scopes: [] },
    handler: async () => ({ secret: 'updated' })
  })
  // no config at all: protected by default, no scope required
  app.get('/api/forker/undeclared', async () => ({ secret: 'default-deny' }))
  app.options('/api/forker/report', { config: { scopes: [] } }, async () => ({ secret: 'options' }))
}

type Credentials = 'none' | 'basic' | 'empty-bearer' | 'blank-bearer' | 'two-headers' | 'query' | 'bad-token' | 'dpop-scheme'
type Body = 'none' | 'empty' | 'small' | 'form-token' | 'huge'

const CREDENTIALS: Credentials[] = ['none', 'basic', 'empty-bearer', 'blank-bearer', 'two-headers', 'query', 'bad-token', 'dpop-scheme']
const CONTENT_TYPES: Array<string | undefined> = [
  undefined,
  'application/json',
  'application/x-www-form-urlencoded',
  'APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8',
  'application/x-www-form-urlencoded ;charset=utf-8',
  'multipart/form-data; boundary=x',
  'text/plain',
  'application/octet-stream'
]
const BODIES: Body[] = ['none', 'empty', 'small', 'form-token', 'huge']
const HUGE = 'a='.concat('x'.repeat(2 * 1024 * 1024))
const BAD_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'

function headersFor(credentials: Credentials, contentType: string | undefined): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {}
  if (contentType !== undefined) headers['content-type'] = contentType
  switch (credentials) {
    case 'basic':
      headers.authorization = 'Basic dXNlcjpwYXNz'
      break
    case 'empty-bearer':
      headers.authorization = 'Bearer'
      break
    case 'blank-bearer':
      headers.authorization = 'Bearer    '
      break
    case 'two-headers':
      headers.authorization = [`Bearer ${BAD_TOKEN}`, `Bearer ${BAD_TOKEN}`]
      break
    case 'bad-token':
      headers.authorization = `bearer ${BAD_TOKEN}`
      break
    case 'dpop-scheme':
      headers.authorization = `DPoP ${BAD_TOKEN}`
      break
    default:
      break
  }
  return headers
}

function bodyFor(body: Body): string | undefined {
  switch (body) {
    case 'none':
      return undefined
    case 'empty':
      return ''
    case 'small':
      return '{"text":"hello"}'
    case 'form-token':
      return `text=hi&access_token=${BAD_TOKEN}`
    case 'huge':
      return HUGE
  }
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/** What a method no route of the path serves may get: no route (404), or its body refused on the way to the 404 (400, 413, 415). */
const UNSERVED = [400, 401, 404, 413, 415]

/** The contract's answer for a request with these credentials (none of them valid). */
function expectedStatus(credentials: Credentials, method: string, contentType: string | undefined, body: Body): 400 | 401 {
  if (credentials === 'query' || credentials === 'two-headers' || credentials === 'empty-bearer' || credentials === 'blank-bearer')
    return 400
  const form = contentType !== undefined && contentType.split(';')[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded'
  if ((credentials === 'none' || credentials === 'basic') && form && body === 'form-token' && BODY_METHODS.has(method)) return 400
  return 401
}

/** A concrete URL for a route path (parameters filled, wildcards named). */
function concrete(url: string): string {
  return url.replace(/:[^/]+/g, '7f8b7a9e-2b1e-4d8e-9a57-0b3c1d2e3f40').replace(/\*/g, 'anything')
}

function methodsOf(route: GatedRoute): string[] {
  return route.method.split(',')
}

describe('the gate, over the whole route table', () => {
  let api: TestApi
  let protectedRoutes: GatedRoute[]
  /** METHOD url pairs the router serves, to tell a 404 for an unserved HEAD/OPTIONS from a hole. */
  let served: Set<string>

  beforeAll(async () => {
    api = await startTestApi({
      env: { CORS_ORIGINS: 'https://app.example.test' },
      instrument: (app) => {
        spyOnHandlers(app)
        addForkerRoutes(app)
      }
    })
    protectedRoutes = api.app.routeTable.filter((route) => !route.public)
    served = new Set(api.app.routeTable.flatMap((route) => methodsOf(route).map((method) => `${method} ${route.url}`)))
  })
  afterAll(async () => {
    await api.close()
  })
  beforeEach(() => {
    calls.clear()
  })

  it('knows every route, and only the routes that declare public: true are public', () => {
    const table = api.app.routeTable.map((route) => `${route.method} ${route.url}${route.public ? ' (public)' : ''}`)
    expect(table).toEqual(
      expect.arrayContaining([
        'GET /api/me',
        'HEAD /api/me',
        'GET /api/messages',
        'POST /api/messages',
        'GET /api/messages/:id',
        'DELETE /api/messages/:id',
        'GET /health/live (public)',
        'GET /health/ready (public)',
        'GET /.well-known/oauth-protected-resource (public)',
        'GET /api/forker/report',
        'POST /api/forker/report',
        'PUT,PATCH /api/forker/report/:id',
        'GET /api/forker/undeclared',
        'OPTIONS /api/forker/report',
        'OPTIONS * (public)'
      ])
    )
    for (const route of api.app.routeTable) {
      if (route.url.startsWith('/api/')) expect(route.public, `${route.method} ${route.url}`).toBe(false)
    }
    expect(api.app.routeTable.find((route) => route.url === '/api/messages' && route.method === 'POST')?.scopes).toEqual(['write:messages'])
  })

  it('no handler of a protected route runs for any request shape, and the answer is 400 or 401 per the contract', async () => {
    let requests = 0
    for (const route of protectedRoutes) {
      const url = concrete(route.url)
      for (const method of new Set([...methodsOf(route), 'HEAD', 'OPTIONS'])) {
        const isServed = served.has(`${method} ${route.url}`)
        for (const credentials of CREDENTIALS) {
          for (const contentType of CONTENT_TYPES) {
            for (const body of BODIES) {
              if (body === 'huge' && (credentials !== 'none' || contentType === 'text/plain')) continue // one huge body per shape family is enough
              const payload = bodyFor(body)
              const res = await api.app.inject({
                method: method as 'GET',
                url: credentials === 'query' ? `${url}?access_token=${BAD_TOKEN}` : url,
                headers: headersFor(credentials, contentType) as Record<string, string>,
                ...(payload === undefined ? {} : { payload })
              })
              requests++
              const shape = `${method} ${url} ${credentials} ${String(contentType)} ${body}`
              if (isServed) {
                expect(res.statusCode, shape).toBe(expectedStatus(credentials, method, contentType, body))
                // the challenge of the scheme used comes first; both schemes are accepted (AUTH_DPOP=allowed)
                expect(res.headers['www-authenticate'], shape).toMatch(credentials === 'dpop-scheme' ? /^DPoP algs=/ : /^Bearer realm=/)
                expect(res.headers['www-authenticate'], shape).toMatch(/Bearer realm=.*DPoP algs=|DPoP algs=.*Bearer realm=/)
                if (method !== 'HEAD') expect(res.json().code, shape).toMatch(/^ERR_/)
              } else {
                // HEAD on a path with no GET, or OPTIONS on a path with no OPTIONS route of its
                // own: no route of that path serves it (the CORS preflight route answers 404).
                expect(UNSERVED, shape).toContain(res.statusCode)
              }
              expect(JSON.stringify(res.body), shape).not.toContain('secret')
            }
          }
        }
      }
    }
    expect(requests).toBeGreaterThan(2000)
    // Only the CORS preflight route (public, it serves nothing) may have run a handler.
    expect([...calls.keys()].filter((name) => name !== 'OPTIONS *')).toEqual([])
  })

  it('a valid token still reaches every protected GET handler (the spy sees it)', async () => {
    for (const route of protectedRoutes.filter((r) => r.method === 'GET' && !r.url.includes(':'))) {
      // the route's own scopes, whatever they are: a route added with a scope of its own is reached too
      const token = api.token({ scope: route.scopes.join(' ') })
      const res = await api.app.inject({ url: route.url, headers: { authorization: `Bearer ${token}` } })
      expect(res.statusCode, route.url).toBe(200)
    }
    expect(totalCalls()).toBeGreaterThanOrEqual(4)
  })

  it('property: arbitrary header sets never reach a protected handler', async () => {
    const headerName = fc.constantFrom(
      'authorization',
      'Authorization',
      'AUTHORIZATION',
      'content-type',
      'cookie',
      'dpop',
      'x-forwarded-host',
      'x-http-method-override',
      'origin',
      'access-control-request-method',
      'x-access-token',
      'proxy-authorization',
      'x-original-url'
    )
    const headerValue = fc.oneof(
      fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCXYZ[]^_`abcxyz{|}~'.split('')), maxLength: 40 }),
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        `Bearer ${BAD_TOKEN}`,
        `Bearer ${BAD_TOKEN}, Bearer ${BAD_TOKEN}`,
        'Basic Og==',
        'application/x-www-form-urlencoded',
        'multipart/form-data',
        'GET',
        'https://app.example.test'
      )
    )
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: protectedRoutes.length - 1 }),
        fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'),
        fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
        fc.option(fc.constantFrom('', 'access_token=x', '{"text":"a"}', 'text=a&access_token=b'), { nil: undefined }),
        async (index, method, pairs, payload) => {
          const route = protectedRoutes[index] as GatedRoute
          const headers: Record<string, string[]> = {}
          for (const [name, value] of pairs) (headers[name] ??= []).push(value)
          const res = await api.app.inject({
            method: method as 'GET',
            url: concrete(route.url),
            headers: headers as unknown as Record<string, string>,
            ...(payload === undefined ? {} : { payload })
          })
          const preflight = method === 'OPTIONS' && (headers.origin ?? []).includes('https://app.example.test')
          expect(
            served.has(`${method} ${route.url}`) ? [400, 401, ...(preflight ? [204] : [])] : [...UNSERVED, ...(preflight ? [204] : [])]
          ).toContain(res.statusCode)
          expect([...calls.keys()].filter((name) => name !== 'OPTIONS *')).toEqual([])
        }
      ),
      { numRuns: 400 }
    )
  })

  it('a CORS preflight (no Authorization, as browsers send it) is answered 204 without reaching a handler', async () => {
    const res = await api.app.inject({
      method: 'OPTIONS',
      url: '/api/messages',
      headers: {
        origin: 'https://app.example.test',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization'
      }
    })
    expect(res.statusCode).toBe(204)
    expect(totalCalls()).toBe(0)
  })
})

describe('the gate over real sockets', () => {
  let api: TestApi
  let port: number
  beforeAll(async () => {
    api = await startTestApi({ instrument: spyOnHandlers })
    await api.app.listen({ port: 0, host: '127.0.0.1' })
    port = (api.app.server.address() as AddressInfo).port
  })
  afterAll(async () => {
    await api.close()
  })

  /** Sends `head` and `body`, keeps the socket open, resolves with the first response's head. */
  function send(head: string, body: string): Promise<{ status: string; text: string }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(head + body)
      })
      let text = ''
      socket.on('data', (chunk) => {
        text += chunk.toString()
        if (text.includes('\r\n\r\n')) {
          socket.destroy()
          resolve({ status: text.split('\r\n')[0] ?? '', text })
        }
      })
      socket.on('error', reject)
      setTimeout(() => {
        socket.destroy()
        reject(new Error(`no answer to ${head.split('\r\n')[0] ?? ''}`))
      }, 5000)
    })
  }

  it('an unauthenticated POST with a body still on its way (JSON) is answered 401 without waiting for it', async () => {
    const res = await send(
      'POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n',
      '{"text":'
    )
    // the rest of the body is never sent: an answer at all shows that the gate did not wait for it
    expect(res.status).toBe('HTTP/1.1 401 Unauthorized')
  })

  it('an unauthenticated form POST whose body stalls is answered 401 after a bounded look, never let through', async () => {
    const res = await send(
      'POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\n',
      'text=hi&'
    )
    expect(res.status).toBe('HTTP/1.1 401 Unauthorized')
  })

  it('a form body token with no header is a malformed request (400), told apart from its first bytes', async () => {
    const res = await send(
      'POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\n',
      `access_token=${BAD_TOKEN}&`
    )
    expect(res.status).toBe('HTTP/1.1 400 Bad Request')
    expect(res.text).toContain('error="invalid_request"')
  })

  it('GET and HEAD with a form Content-Type and no token: 401, and no handler ran (the reported bypass)', async () => {
    for (const method of ['GET', 'HEAD']) {
      for (const type of ['application/x-www-form-urlencoded', 'Application/X-WWW-Form-Urlencoded; charset=utf-8']) {
        for (const auth of ['', 'Authorization: Basic dXNlcjpwYXNz\r\n']) {
          const res = await send(`${method} /api/me HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: ${type}\r\n\r\n`, '')
          expect(res.status, `${method} ${type} ${auth}`).toBe('HTTP/1.1 401 Unauthorized')
        }
      }
    }
    expect(totalCalls()).toBe(0)
  })
})

describe('the handler guard behind the gate', () => {
  it('a plugin that strips the gate from a route still cannot reach its handler', async () => {
    let reached = 0
    const api = await startTestApi({
      instrument: (app) => {
        app.get('/api/stripped', { config: { scopes: [] } }, async () => {
          reached++
          return { secret: 'x' }
        })
        // a later onRoute hook that throws away the route-level onRequest hooks (the gate among them)
        app.addHook('onRoute', (route) => {
          route.onRequest = []
        })
        app.get('/api/stripped-later', { config: { scopes: [] } }, async () => {
          reached++
          return { secret: 'x' }
        })
      }
    })
    try {
      for (const url of ['/api/stripped', '/api/stripped-later']) {
        const res = await api.app.inject({ url })
        expect(res.statusCode, url).toBe(401)
        expect(res.body).not.toContain('secret')
      }
      expect(reached).toBe(0)
    } finally {
      await api.close()
    }
  })

  it('a route declared before the gate (out of its sight) stops start-up, naming it', async () => {
    await expect(
      startTestApi({
        beforeGate: (app) => {
          app.get('/api/early', { config: { scopes: ['read:messages'] } }, async () => ({ secret: 'x' }))
        }
      })
    ).rejects.toThrow('routes declared before the gate, so not behind it: GET /api/early, HEAD /api/early')
  })

  it('a route declared both public and with scopes stops start-up, naming it', async () => {
    await expect(
      startTestApi({
        instrument: (app) => {
          app.get('/api/confused', { config: { public: true, scopes: ['read:messages'] } }, async () => ({}))
        }
      })
    ).rejects.toThrow('route GET /api/confused is declared both public and with scopes')
  })
})
