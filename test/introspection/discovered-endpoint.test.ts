// Where the API's introspection credentials may go. An introspection_endpoint learned from the
// issuer's metadata is used only on the issuer's own origin over https (http only for an issuer
// on loopback); anywhere else the request gets 503 ERR_INTROSPECTION_UNAVAILABLE, a log line says
// why, and the endpoint receives nothing, unless AUTH_INTROSPECTION_URL names it explicitly.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { discoveredEndpointRefusal } from '../../src/introspection/introspector.js'
import { INTROSPECTION_CREDENTIALS, opaque } from '../helpers/introspection.js'
import { makeKey } from '../helpers/keys.js'
import { AUDIENCE, me, startTestApi, type TestApi } from '../helpers/test-api.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'

describe('discoveredEndpointRefusal', () => {
  it.each([
    ['https://issuer.example/oauth2/introspect', 'https://issuer.example/'],
    ['https://issuer.example:443/introspect', 'https://issuer.example/tenant/'],
    ['http://127.0.0.1:4000/introspect', 'http://127.0.0.1:4000'],
    ['http://127.8.9.10:4000/token/introspection', 'http://127.8.9.10:4000/realms/test'],
    ['http://[::1]:4000/introspect', 'http://[::1]:4000'],
    ['http://localhost:4000/introspect', 'http://localhost:4000/']
  ])('uses %s for the issuer %s', (endpoint, issuer) => {
    expect(discoveredEndpointRefusal(endpoint, issuer)).toBeUndefined()
  })

  it.each([
    ['https://attacker.example/introspect', 'https://issuer.example/', /not on the issuer's origin/],
    ['https://evil.issuer.example/introspect', 'https://issuer.example/', /not on the issuer's origin/],
    ['https://issuer.example.attacker.example/introspect', 'https://issuer.example/', /not on the issuer's origin/],
    ['https://issuer.example:8443/introspect', 'https://issuer.example/', /not on the issuer's origin/],
    ['http://issuer.example/introspect', 'https://issuer.example/', /not on the issuer's origin/],
    ['http://issuer.example/introspect', 'http://issuer.example/', /plain http/],
    ['http://0.0.0.0:4000/introspect', 'http://0.0.0.0:4000', /plain http/],
    ['http://127.0.0.1:4001/introspect', 'http://127.0.0.1:4000', /not on the issuer's origin/],
    ['http://localhost:4000/introspect', 'http://127.0.0.1:4000', /not on the issuer's origin/],
    ['https://user:secret@issuer.example/introspect', 'https://issuer.example/', /credentials/],
    ['/introspect', 'https://issuer.example/', /not an absolute URL/],
    ['ftp://issuer.example/introspect', 'https://issuer.example/', /not an http\(s\) URL/]
  ])('refuses %s for the issuer %s', (endpoint, issuer, reason) => {
    expect(discoveredEndpointRefusal(endpoint, issuer)).toMatch(reason)
  })
})

interface Recorder {
  url: string
  requests: Array<{ path: string; headers: IncomingHttpHeaders }>
  close(): Promise<void>
}

/** An RFC 7662 endpoint on another origin (another loopback port) that records what it receives. */
async function startRecorder(): Promise<Recorder> {
  const requests: Recorder['requests'] = []
  const server: Server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', headers: req.headers })
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ active: true, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60, sub: 'user-elsewhere' }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/introspect`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

interface LogEntry {
  msg?: string
  component?: string
  reason?: string
  endpoint?: string
  err?: string
}

describe("an introspection_endpoint that the issuer's metadata puts elsewhere", () => {
  let issuer: TestIssuer
  let recorder: Recorder
  let api: TestApi | undefined
  const lines: string[] = []
  const logged = (): LogEntry[] => lines.map((line) => JSON.parse(line) as LogEntry)

  beforeAll(async () => {
    issuer = await startTestIssuer({ keys: [makeKey('RS256')], discovery: 'openid' })
    recorder = await startRecorder()
  })
  afterEach(async () => {
    await api?.close()
    api = undefined
    lines.length = 0
    recorder.requests.length = 0
    issuer.hits.introspection = 0
  })
  afterAll(async () => {
    await recorder.close()
    await issuer.close()
  })

  /** An app on the shared issuer (closed after each test), its warnings logged into `lines`. */
  async function start(env: Record<string, string> = {}): Promise<TestApi> {
    api = await startTestApi({
      issuer,
      env: { AUTH_TOKEN_FORMATS: 'jwt,opaque', LOG_LEVEL: 'warn', ...INTROSPECTION_CREDENTIALS, ...env },
      logStream: {
        write: (line: string) => {
          lines.push(line)
        }
      },
      waitForKeys: false
    })
    return api
  }

  it.each([
    ['on another origin', () => recorder.url, /not on the issuer's origin/],
    [
      "on the issuer's server under another name (localhost)",
      () => `http://localhost:${issuer.port}/introspect`,
      /not on the issuer's origin/
    ],
    ["on the issuer's origin with credentials in the URL", () => `http://user:pass@127.0.0.1:${issuer.port}/introspect`, /credentials/],
    ['on another origin over https', () => 'https://introspection.attacker.example/introspect', /not on the issuer's origin/]
  ])('%s: 503 ERR_INTROSPECTION_UNAVAILABLE, nothing sent, a log line saying why', async (_name, endpoint, reason) => {
    issuer.metadata.introspection_endpoint = endpoint()
    const target = await start()

    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await me(target, opaque())
      expect(res.statusCode, res.body).toBe(503)
      expect(res.headers['retry-after']).toMatch(/^\d+$/)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json()).toMatchObject({ status: 503, code: 'ERR_INTROSPECTION_UNAVAILABLE' })
      expect(res.body).not.toContain('resource-api-secret')
    }
    expect(recorder.requests).toHaveLength(0)
    expect(issuer.hits.introspection).toBe(0)

    const refusals = logged().filter((entry) => entry.msg?.startsWith('introspection endpoint from the issuer metadata refused') === true)
    expect(refusals).toHaveLength(1) // once, not per request
    expect(refusals[0]?.reason).toMatch(reason)
    expect(refusals[0]?.endpoint).toBe(endpoint().replace('user:pass@', '')) // never a password in the logs
    expect(JSON.stringify(logged())).not.toContain('resource-api-secret')
    const failures = logged().filter((entry) => entry.msg === 'introspection failed')
    expect(failures.length).toBe(2)
    expect(failures[0]?.err).toMatch(/introspection_endpoint refused/)
  })

  it('the same endpoint is used when AUTH_INTROSPECTION_URL names it', async () => {
    issuer.metadata.introspection_endpoint = recorder.url
    const target = await start({ AUTH_INTROSPECTION_URL: recorder.url })
    const res = await me(target, opaque())
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toMatchObject({ sub: 'user-elsewhere' })
    expect(recorder.requests).toHaveLength(1)
    expect(recorder.requests[0]?.headers.authorization).toMatch(/^Basic /)
  })

  it("the issuer's own endpoint (loopback http, same origin) is used", async () => {
    issuer.metadata.introspection_endpoint = issuer.introspectionUri
    issuer.onIntrospect = () => ({
      body: { active: true, iss: issuer.url, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60, sub: 'user-home' }
    })
    const target = await start()
    const res = await me(target, opaque())
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toMatchObject({ sub: 'user-home' })
    expect(issuer.hits.introspection).toBe(1)
    expect(recorder.requests).toHaveLength(0)
  })
})
