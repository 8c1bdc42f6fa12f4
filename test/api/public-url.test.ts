/**
 * PUBLIC_URL and TRUST_PROXY: every URL the API publishes (the challenge's `resource_metadata`,
 * the RFC 9728 document's URLs) starts with PUBLIC_URL, whatever Host and X-Forwarded-* say,
 * even when those headers are trusted; TRUST_PROXY decides only whom Fastify believes about
 * the client (request.ip, as logged).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeKey } from '../helpers/keys.js'
import { AUDIENCE, startTestApi, type TestApi } from '../helpers/test-api.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'

const SPOOFED = {
  host: 'evil.example',
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'http',
  'x-forwarded-port': '8080',
  'x-forwarded-for': '203.0.113.7',
  forwarded: 'for=203.0.113.7;host=evil.example;proto=http'
}

const cases: Array<{ name: string; env: Record<string, string>; base: string; resource: string }> = [
  { name: 'the default, from the audience', env: {}, base: AUDIENCE, resource: AUDIENCE },
  {
    name: 'the default, from the first audience that is a URL',
    env: { AUTH_AUDIENCE: `urn:resource-api,${AUDIENCE}/v1/` },
    base: `${AUDIENCE}/v1`,
    resource: 'urn:resource-api'
  },
  {
    name: 'the default http://HOST:PORT, when no audience is a URL',
    env: { AUTH_AUDIENCE: 'urn:resource-api', PORT: '3999' },
    base: 'http://127.0.0.1:3999',
    resource: 'urn:resource-api'
  },
  {
    name: 'PUBLIC_URL with a path',
    env: { PUBLIC_URL: 'https://gateway.example.com/resource-api/' },
    base: 'https://gateway.example.com/resource-api',
    resource: AUDIENCE
  },
  {
    name: 'PUBLIC_URL, with X-Forwarded-* trusted from every peer',
    env: { PUBLIC_URL: 'https://gateway.example.com', TRUST_PROXY: 'true' },
    base: 'https://gateway.example.com',
    resource: AUDIENCE
  }
]

describe.each(cases)('published URLs: $name', ({ env, base, resource }) => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi({ env })
  })
  afterAll(async () => {
    await api.close()
  })

  it("the challenge's resource_metadata, without and with a token", async () => {
    const metadataUrl = `${base}/.well-known/oauth-protected-resource`
    const anonymous = await api.app.inject({ url: '/api/me', headers: SPOOFED })
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.headers['www-authenticate']).toBe(
      `Bearer realm="${env.AUTH_AUDIENCE?.split(',')[0] ?? AUDIENCE}", resource_metadata="${metadataUrl}", DPoP algs="ES256 EdDSA RS256 PS256", resource_metadata="${metadataUrl}"`
    )

    const expired = await api.app.inject({
      url: '/api/messages',
      headers: { ...SPOOFED, authorization: `Bearer ${api.token({ exp: api.now() - 60 })}` }
    })
    expect(expired.statusCode).toBe(401)
    expect(expired.headers['www-authenticate']).toMatch(/error="invalid_token"/)
    expect(expired.headers['www-authenticate']).toContain(`resource_metadata="${metadataUrl}"`)
    expect(expired.headers['www-authenticate']).not.toContain('evil.example')
  })

  it('the RFC 9728 document', async () => {
    const res = await api.app.inject({ url: '/.well-known/oauth-protected-resource', headers: SPOOFED })
    expect(res.statusCode).toBe(200)
    const document = res.json<Record<string, unknown>>()
    expect(document).toMatchObject({ resource, authorization_servers: [api.issuer.url], resource_documentation: `${base}/docs` })
    expect(res.body).not.toContain('evil.example')
    // every URL in it is the issuer's, the resource identifier, or one of ours under PUBLIC_URL
    const urls = Object.entries(document)
      .flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((item) => [name, item] as const))
      .filter(([, item]) => typeof item === 'string' && /^https?:/.test(item))
    for (const [name, url] of urls) {
      if (name === 'authorization_servers' || name === 'resource') continue
      expect(url, name).toMatch(new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/`))
    }
  })
})

describe('TRUST_PROXY decides whom Fastify believes about the client', () => {
  const key = makeKey('RS256')
  let issuer: TestIssuer
  beforeAll(async () => {
    issuer = await startTestIssuer({ keys: [key] })
  })
  afterAll(async () => {
    await issuer.close()
  })

  /** The app's request log line for one spoofed request (the logger writes request.host and request.ip). */
  async function logged(env: Record<string, string>): Promise<{ host?: string; remoteAddress?: string }> {
    const lines: string[] = []
    const api = await startTestApi({
      issuer,
      env: { AUTH_JWKS_URI: issuer.jwksUri, LOG_LEVEL: 'info', ...env },
      logStream: {
        write: (line: string) => {
          lines.push(line)
        }
      },
      waitForKeys: false
    })
    try {
      const res = await api.app.inject({ url: '/health/live', headers: { ...SPOOFED, host: 'internal.example' } })
      expect(res.statusCode).toBe(200)
    } finally {
      await api.close()
    }
    const incoming = lines
      .map((line) => JSON.parse(line) as { msg?: string; req?: { host?: string; remoteAddress?: string } })
      .find((entry) => entry.msg === 'incoming request')
    expect(incoming?.req).toBeDefined()
    return incoming?.req ?? {}
  }

  it.each([
    ['unset', {}, { host: 'internal.example', remoteAddress: '127.0.0.1' }],
    ['false', { TRUST_PROXY: 'false' }, { host: 'internal.example', remoteAddress: '127.0.0.1' }],
    ['a range the peer is not in', { TRUST_PROXY: '10.0.0.0/8' }, { host: 'internal.example', remoteAddress: '127.0.0.1' }],
    ["the peer's address", { TRUST_PROXY: '127.0.0.1' }, { host: 'evil.example', remoteAddress: '203.0.113.7' }],
    ['loopback', { TRUST_PROXY: 'loopback' }, { host: 'evil.example', remoteAddress: '203.0.113.7' }],
    ['true', { TRUST_PROXY: 'true' }, { host: 'evil.example', remoteAddress: '203.0.113.7' }]
  ])('TRUST_PROXY %s', async (_name, env, expected) => {
    expect(await logged(env)).toMatchObject(expected)
  })
})
