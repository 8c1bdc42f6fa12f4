// Issue 9, item 2: the introspection client. Endpoint from AUTH_INTROSPECTION_URL or the issuer
// metadata's introspection_endpoint; POST, form body token + token_type_hint=access_token;
// client_secret_basic with the API's credentials (form-urlencoded before base64); missing
// credentials stop start-up naming the variable; no redirects followed.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.js'
import { INTROSPECTION_CREDENTIALS, opaque } from '../helpers/introspection.js'
import { makeKey } from '../helpers/keys.js'
import { runServer } from '../helpers/server-process.js'
import { AUDIENCE, me, startTestApi, type TestApi } from '../helpers/test-api.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'

interface Captured {
  method: string
  path: string
  headers: IncomingMessage['headers']
  raw: string
}

/** A bare RFC 7662 endpoint on loopback that records every request as received. */
interface RecordingEndpoint {
  url: string
  requests: Captured[]
  respond: (req: Captured, res: ServerResponse) => void
  close(): Promise<void>
}

async function startRecordingEndpoint(): Promise<RecordingEndpoint> {
  const endpoint: RecordingEndpoint = {
    url: '',
    requests: [],
    respond: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"active":false}')
    },
    close: async () => {}
  }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const captured = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') }
      endpoint.requests.push(captured)
      endpoint.respond(captured, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/introspect`
  endpoint.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  return endpoint
}

/** Splits an HTTP Basic header the RFC 6749 §2.3.1 way: base64, first ':', then form-decoding of each part. */
function decodeBasic(header: string | undefined): { id: string; secret: string; rawId: string; rawSecret: string } {
  expect(header).toMatch(/^Basic [A-Za-z0-9+/]+=*$/)
  const decoded = Buffer.from((header ?? '').slice('Basic '.length), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  expect(colon).toBeGreaterThan(0)
  const rawId = decoded.slice(0, colon)
  const rawSecret = decoded.slice(colon + 1)
  const formDecode = (value: string): string => decodeURIComponent(value.replace(/\+/g, '%20'))
  return { id: formDecode(rawId), secret: formDecode(rawSecret), rawId, rawSecret }
}

describe('the exchange with the endpoint from the issuer metadata', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi({ env: { AUTH_TOKEN_FORMATS: 'jwt,opaque', ...INTROSPECTION_CREDENTIALS } })
  })
  afterAll(async () => {
    await api.close()
  })

  it('posts token and token_type_hint=access_token with HTTP Basic to introspection_endpoint', async () => {
    const seen: Array<{ token: string; tokenTypeHint?: string; authorization?: string; form: Record<string, string> }> = []
    api.issuer.onIntrospect = (req) => {
      seen.push(req)
      return { body: { active: true, iss: api.issuer.url, aud: AUDIENCE, exp: api.now() + 60, sub: 'user-1' } }
    }
    const token = opaque()
    const res = await me(api, token)
    expect(res.statusCode).toBe(200)
    expect(api.issuer.hits.introspection).toBe(1)
    expect(seen).toHaveLength(1)
    const [request] = seen
    expect(request?.token).toBe(token)
    expect(request?.tokenTypeHint).toBe('access_token')
    expect(Object.keys(request?.form ?? {}).sort()).toEqual(['token', 'token_type_hint'])
    const { id, secret } = decodeBasic(request?.authorization)
    expect(id).toBe('resource-api')
    expect(secret).toBe('resource-api-secret')
  })
})

describe('the exchange with AUTH_INTROSPECTION_URL', () => {
  let endpoint: RecordingEndpoint
  let api: TestApi
  const clientId = "api:client/é+ &%~!*'()"
  const clientSecret = 'p@ss:w0rd+/=&% ~!*\'()"\\ü'

  beforeAll(async () => {
    endpoint = await startRecordingEndpoint()
    api = await startTestApi({
      env: {
        AUTH_TOKEN_FORMATS: 'opaque',
        AUTH_INTROSPECTION_URL: endpoint.url,
        AUTH_INTROSPECTION_CLIENT_ID: clientId,
        AUTH_INTROSPECTION_CLIENT_SECRET: clientSecret
      }
    })
  })
  afterAll(async () => {
    await api.close()
    await endpoint.close()
  })
  afterEach(() => {
    endpoint.requests.length = 0
  })

  it('uses the configured URL rather than the metadata, with method POST and a form body', async () => {
    const token = `tok+/${randomBytes(8).toString('hex')}~.-_==`
    endpoint.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ active: true, aud: AUDIENCE, exp: api.now() + 60, sub: 'user-2', scope: 'read:messages' }))
    }
    const res = await me(api, token)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ sub: 'user-2', scopes: ['read:messages'] })
    expect(api.issuer.hits.introspection).toBe(0)
    expect(endpoint.requests).toHaveLength(1)
    const request = endpoint.requests[0] as Captured
    expect(request.method).toBe('POST')
    expect(request.path).toBe('/oauth2/introspect')
    expect(request.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/)
    const form = new URLSearchParams(request.raw)
    expect([...form.keys()].sort()).toEqual(['token', 'token_type_hint'])
    expect(form.get('token')).toBe(token) // '+', '/', '=' and '~' survive the form encoding
    expect(form.get('token_type_hint')).toBe('access_token')
    expect(request.raw).not.toContain('+/=') // encoded, not sent raw
  })

  it('form-urlencodes an id and secret with special characters before base64 (RFC 6749 §2.3.1)', async () => {
    await me(api, opaque())
    const request = endpoint.requests[0] as Captured
    const { id, secret, rawId, rawSecret } = decodeBasic(request.headers.authorization)
    expect(id).toBe(clientId)
    expect(secret).toBe(clientSecret)
    // the separator is the only raw ':'; spaces are '+', a literal '+' is %2B
    expect(rawId).not.toContain(':')
    expect(rawId).not.toContain(' ')
    expect(rawSecret).not.toContain(' ')
    expect(rawId).toContain('%3A')
    expect(rawSecret).toContain('%2B')
    // exactly application/x-www-form-urlencoded (WHATWG): what a strict form decoder expects
    const formEncode = (value: string): string => new URLSearchParams([['', value]]).toString().slice(1)
    expect(rawId).toBe(formEncode(clientId))
    expect(rawSecret).toBe(formEncode(clientSecret))
  })

  it('does not follow a redirect from the introspection endpoint', async () => {
    const target = await startRecordingEndpoint()
    target.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ active: true, aud: AUDIENCE, exp: api.now() + 60, sub: 'redirected' }))
    }
    try {
      for (const status of [301, 302, 307, 308]) {
        endpoint.respond = (_req, res) => {
          res.writeHead(status, { location: target.url }).end()
        }
        const res = await me(api, opaque())
        expect(res.statusCode).toBe(503)
        expect(res.headers['retry-after']).toMatch(/^\d+$/)
      }
      expect(target.requests).toHaveLength(0)
    } finally {
      await target.close()
    }
  })

  it('refuses an answer larger than the size cap with 503', async () => {
    endpoint.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ active: true, aud: AUDIENCE, exp: api.now() + 60, padding: 'x'.repeat(2 * 1024 * 1024) }))
    }
    const res = await me(api, opaque())
    expect(res.statusCode).toBe(503)
    expect(res.headers['retry-after']).toMatch(/^\d+$/)
  })

  it('refuses a chunked answer that grows past the size cap with 503', async () => {
    endpoint.respond = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }) // no content-length
      res.write('{"active":true,"padding":"')
      for (let i = 0; i < 64; i++) res.write('x'.repeat(16 * 1024))
      res.end('"}')
    }
    const res = await me(api, opaque())
    expect(res.statusCode).toBe(503)
  })
})

describe('where the endpoint comes from', () => {
  it('answers 503 with Retry-After (not 500) when the metadata publishes no introspection_endpoint', async () => {
    const api = await startTestApi({ env: { AUTH_TOKEN_FORMATS: 'jwt,opaque', ...INTROSPECTION_CREDENTIALS }, waitForKeys: false })
    try {
      api.issuer.metadata['introspection_endpoint'] = undefined // dropped from the JSON document
      const res = await me(api, opaque())
      expect(res.statusCode).toBe(503)
      expect(res.headers['retry-after']).toMatch(/^\d+$/)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(api.issuer.hits.introspection).toBe(0)
    } finally {
      await api.close()
    }
  })

  it('still finds introspection_endpoint in the metadata when AUTH_JWKS_URI is set', async () => {
    const issuer: TestIssuer = await startTestIssuer({ keys: [makeKey('RS256')], discovery: 'openid' })
    // the issuer is the test's own: AUTH_JWKS_URI names its JWKS before the app starts
    const api = await startTestApi({
      issuer,
      env: { AUTH_JWKS_URI: issuer.jwksUri, AUTH_TOKEN_FORMATS: 'opaque', ...INTROSPECTION_CREDENTIALS },
      waitForKeys: false
    })
    try {
      issuer.onIntrospect = () => ({
        body: { active: true, iss: issuer.url, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60, sub: 'user-3' }
      })
      const res = await me(api, opaque())
      expect(res.statusCode).toBe(200)
      expect(res.json()).toMatchObject({ sub: 'user-3' })
      expect(issuer.hits.introspection).toBe(1)
      // the metadata is fetched once, not per token
      await me(api, opaque())
      expect(issuer.hits.openid).toBe(1)
      expect(issuer.hits.introspection).toBe(2)
    } finally {
      await api.close()
      await issuer.close()
    }
  })
})

describe('introspection credentials are required when opaque tokens are accepted', () => {
  const base = { AUTH_ISSUER: 'https://issuer.example.test', AUTH_AUDIENCE: AUDIENCE }

  it.each([
    ['opaque', {}, 'AUTH_INTROSPECTION_CLIENT_ID'],
    ['jwt,opaque', {}, 'AUTH_INTROSPECTION_CLIENT_ID'],
    ['opaque', { AUTH_INTROSPECTION_CLIENT_SECRET: 's' }, 'AUTH_INTROSPECTION_CLIENT_ID'],
    ['opaque', { AUTH_INTROSPECTION_CLIENT_ID: 'api' }, 'AUTH_INTROSPECTION_CLIENT_SECRET'],
    ['jwt,opaque', { AUTH_INTROSPECTION_CLIENT_ID: 'api', AUTH_INTROSPECTION_CLIENT_SECRET: '   ' }, 'AUTH_INTROSPECTION_CLIENT_SECRET'],
    ['opaque', { AUTH_INTROSPECTION_CLIENT_ID: '', AUTH_INTROSPECTION_CLIENT_SECRET: 's' }, 'AUTH_INTROSPECTION_CLIENT_ID']
  ])('AUTH_TOKEN_FORMATS=%s with %j stops loadConfig naming %s', (formats, credentials, variable) => {
    let thrown: unknown
    try {
      loadConfig({ ...base, AUTH_TOKEN_FORMATS: formats, ...credentials })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ConfigError)
    expect((thrown as ConfigError).variable).toBe(variable)
    expect((thrown as ConfigError).message).toContain(variable)
  })

  it('needs no credentials when only JWTs are accepted', () => {
    expect(loadConfig(base).auth.formats).toEqual(['jwt'])
    expect(loadConfig({ ...base, AUTH_TOKEN_FORMATS: 'jwt' }).auth.introspection.clientId).toBeUndefined()
  })

  it('reads the introspection settings', () => {
    const config = loadConfig({
      ...base,
      AUTH_TOKEN_FORMATS: 'jwt,opaque',
      AUTH_INTROSPECTION_URL: 'https://issuer.example.test/oauth2/introspect',
      AUTH_INTROSPECTION_CACHE_TTL: '12',
      ...INTROSPECTION_CREDENTIALS
    })
    expect(config.auth.formats).toEqual(['jwt', 'opaque'])
    expect(config.auth.introspection).toMatchObject({
      url: 'https://issuer.example.test/oauth2/introspect',
      clientId: 'resource-api',
      clientSecret: 'resource-api-secret',
      cacheTtl: 12
    })
    expect(loadConfig({ ...base, AUTH_TOKEN_FORMATS: 'opaque', ...INTROSPECTION_CREDENTIALS }).auth.introspection.cacheTtl).toBe(30)
  })

  it('refuses an unknown format and a bad introspection URL, naming the variable', () => {
    expect(() => loadConfig({ ...base, AUTH_TOKEN_FORMATS: 'jwt,reference' })).toThrow(/AUTH_TOKEN_FORMATS/)
    expect(() =>
      loadConfig({ ...base, AUTH_TOKEN_FORMATS: 'opaque', AUTH_INTROSPECTION_URL: 'not a url', ...INTROSPECTION_CREDENTIALS })
    ).toThrow(/AUTH_INTROSPECTION_URL/)
  })

  it('the server exits non-zero with one line naming the variable, without listening', async () => {
    // NODE_ENV=production: a developer's .env is not read; an empty secret counts as missing
    const result = await runServer(
      {
        NODE_ENV: 'production',
        AUTH_INTROSPECTION_CLIENT_SECRET: '',
        AUTH_ISSUER: 'https://issuer.example.test',
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_TOKEN_FORMATS: 'opaque',
        AUTH_INTROSPECTION_CLIENT_ID: 'api',
        PORT: '0'
      },
      10_000
    )
    expect(result.code).not.toBe(0)
    expect(result.code).not.toBeNull()
    const lines = result.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('AUTH_INTROSPECTION_CLIENT_SECRET')
  })
})
