/**
 * The calls to the issuer through an outbound proxy (src/remote/proxy.ts), in process: the
 * key fetch, discovery and introspection go through a real proxy on loopback, which records
 * every request it forwards (so that a request that went around it would show); NO_PROXY and
 * the lower-case variables as Node reads them; fetchJson's timeout, size cap and redirect
 * refusal through the proxy; the proxy's credentials sent and never shown; unusable proxy
 * URLs refused. The server's own start-up (server.ts) is in corporate-network.test.ts.
 */
import { createServer } from 'node:http'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config.js'
import { KeyStore, type KeyStoreLogger } from '../../src/keys/key-store.js'
import { fetchJson, FetchFailed, type FetchJsonOptions } from '../../src/remote/fetch-json.js'
import { useProxyFromEnvironment } from '../../src/remote/proxy.js'
import { makeKey } from '../helpers/keys.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'
import { startTestProxy, type StartTestProxyOptions, type TestProxy } from '../helpers/test-proxy.js'

const OPTIONS: FetchJsonOptions = { timeoutMs: 2000, maxBytes: 64 * 1024 }
const PROXY_VARIABLES = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY']

// Node's fetch falls back on process.env for what the given settings leave out: a developer's
// own proxy settings must not take part in these tests.
const saved = new Map<string, string | undefined>()
beforeAll(() => {
  for (const name of PROXY_VARIABLES) {
    saved.set(name, process.env[name])
    delete process.env[name]
  }
})
afterAll(() => {
  for (const [name, value] of saved) if (value !== undefined) process.env[name] = value
})

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function issuer(): Promise<TestIssuer> {
  const started = await startTestIssuer({ keys: [makeKey('ES256')], discovery: 'openid' })
  cleanups.push(() => started.close())
  return started
}

async function proxy(options?: StartTestProxyOptions): Promise<TestProxy> {
  const started = await startTestProxy(options)
  cleanups.push(() => started.close())
  return started
}

/** Outbound calls through the proxies `env` names, until the end of the test. */
function through(env: Record<string, string>, direct?: string[]): void {
  const outbound = useProxyFromEnvironment(env, direct === undefined ? {} : { direct })
  expect(outbound).toBeDefined()
  cleanups.push(() => outbound?.restore())
}

async function failure(call: Promise<unknown>): Promise<FetchFailed> {
  const error = await call.then(
    () => undefined,
    (reason: unknown) => reason
  )
  expect(error).toBeInstanceOf(FetchFailed)
  return error as FetchFailed
}

/** A key store for `idp` (discovery unless a JWKS URI is given), started, closed after the test; its log lines kept. */
async function startedKeyStore(idp: TestIssuer, jwksUri?: string): Promise<{ store: KeyStore; lines: string[] }> {
  const lines: string[] = []
  const log: KeyStoreLogger = {
    info: (obj, msg) => lines.push(`${msg} ${JSON.stringify(obj)}`),
    warn: (obj, msg) => lines.push(`${msg} ${JSON.stringify(obj)}`)
  }
  const store = new KeyStore({
    issuer: idp.url,
    jwksUri,
    algorithms: new Set(['ES256']),
    fetchTimeoutMs: 2000,
    cacheTtl: 600,
    cooldown: 30,
    maxStale: 86_400,
    maxBytes: 512 * 1024,
    log
  })
  cleanups.push(() => store.close())
  await store.start()
  return { store, lines }
}

function totalHits(target: TestIssuer): number {
  return Object.values(target.hits).reduce((sum, hits) => sum + hits, 0)
}

describe('calls to the issuer through the proxy', () => {
  it('fetches the metadata and the keys through the proxy: every request the issuer got came through it', async () => {
    const [idp, via] = await Promise.all([issuer(), proxy()])
    through({ HTTP_PROXY: via.url })
    const { store, lines } = await startedKeyStore(idp)
    expect(store.ready, lines.join('\n')).toBe(true)
    expect(via.connects).toContain(`127.0.0.1:${idp.port}`)
    expect(via.requests).toEqual([
      { via: 'tunnel', method: 'GET', url: idp.openidConfigurationUri },
      { via: 'tunnel', method: 'GET', url: idp.jwksUri }
    ])
    expect(totalHits(idp)).toBe(via.requests.length)
  })

  it("sends an introspection request through the proxy, with its body and the API's credentials", async () => {
    const [idp, via] = await Promise.all([issuer(), proxy()])
    through({ HTTP_PROXY: via.url })
    let received: { token: string; authorization?: string } | undefined
    idp.onIntrospect = (req) => {
      received = req
      return { body: { active: false } }
    }
    const { body } = await fetchJson(idp.introspectionUri, {
      ...OPTIONS,
      method: 'POST',
      headers: { authorization: 'Basic YXBpOnNlY3JldA==', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=opaque-1&token_type_hint=access_token'
    })
    expect(body).toEqual({ active: false })
    expect(received).toMatchObject({ token: 'opaque-1', authorization: 'Basic YXBpOnNlY3JldA==' })
    expect(via.requests).toEqual([{ via: 'tunnel', method: 'POST', url: idp.introspectionUri }])
  })

  it.each([
    ['127.0.0.1', false],
    ['localhost,127.0.0.1', false],
    ['127.0.0.1:PORT', false],
    ['*', false],
    ['127.0.0.1:1', true],
    ['issuer.example.com, .corp.example', true]
  ])('NO_PROXY=%s: through the proxy %s', async (value, proxied) => {
    const [idp, via] = await Promise.all([issuer(), proxy()])
    through({ HTTP_PROXY: via.url, NO_PROXY: value.replace('PORT', String(idp.port)) })
    await fetchJson(idp.jwksUri, OPTIONS)
    expect(idp.hits.jwks).toBe(1)
    expect(via.requests).toHaveLength(proxied ? 1 : 0)
    expect(via.connects).toHaveLength(proxied ? 1 : 0)
  })

  it('reads the lower-case variables first, as curl and Node do', async () => {
    const [idp, via] = await Promise.all([issuer(), proxy()])
    // the upper-case proxy would refuse the connection
    through({ http_proxy: via.url, HTTP_PROXY: 'http://127.0.0.1:1', NO_PROXY: '127.0.0.1', no_proxy: 'issuer.example.com' })
    await fetchJson(idp.jwksUri, OPTIONS)
    expect(via.requests).toEqual([{ via: 'tunnel', method: 'GET', url: idp.jwksUri }])
  })

  it('reaches the hosts given as direct without the proxy (the development issuer), after those of NO_PROXY', async () => {
    const [idp, via] = await Promise.all([issuer(), proxy()])
    const outbound = useProxyFromEnvironment({ HTTP_PROXY: via.url, NO_PROXY: 'internal.example' }, { direct: [`127.0.0.1:${idp.port}`] })
    cleanups.push(() => outbound?.restore())
    expect(outbound?.summary).toEqual({ httpProxy: `${via.url}/`, noProxy: `internal.example,127.0.0.1:${idp.port}` })
    await fetchJson(idp.jwksUri, OPTIONS)
    expect(via.requests).toHaveLength(0)
  })

  it('goes direct again once restored', async () => {
    const [idp, via] = await Promise.all([issuer(), proxy()])
    useProxyFromEnvironment({ HTTP_PROXY: via.url })?.restore()
    await fetchJson(idp.jwksUri, OPTIONS)
    expect(via.connects).toHaveLength(0)
  })
})

describe("fetchJson's safeguards through the proxy", () => {
  it('times out on an issuer that never answers', async () => {
    const [idp, via] = await Promise.all([issuer(), proxy()])
    through({ HTTP_PROXY: via.url })
    idp.setJwksFault({ hang: true })
    const started = performance.now()
    const error = await failure(fetchJson(idp.jwksUri, { ...OPTIONS, timeoutMs: 300 }))
    expect(error.message).toBe(`${idp.jwksUri}: timed out after 300 ms`)
    expect(performance.now() - started).toBeLessThan(1500)
    expect(via.requests).toEqual([{ via: 'tunnel', method: 'GET', url: idp.jwksUri }])
  })

  it('times out on a proxy that never answers', async () => {
    const [idp, via] = await Promise.all([issuer(), proxy({ hang: true })])
    through({ HTTP_PROXY: via.url })
    const started = performance.now()
    const error = await failure(fetchJson(idp.jwksUri, { ...OPTIONS, timeoutMs: 300 }))
    expect(error.message).toBe(`${idp.jwksUri}: timed out after 300 ms`)
    expect(performance.now() - started).toBeLessThan(1500)
    expect(idp.hits.jwks).toBe(0)
  })

  it('refuses a response whose declared size is over the cap', async () => {
    const [idp, via] = await Promise.all([issuer(), proxy()])
    through({ HTTP_PROXY: via.url })
    idp.setJwksFault({ body: JSON.stringify({ keys: [], pad: 'x'.repeat(200_000) }) })
    const error = await failure(fetchJson(idp.jwksUri, OPTIONS))
    expect(error.message).toMatch(/exceeds 65536$/)
    expect(via.requests).toHaveLength(1)
  })

  it('stops reading an endless response at the cap, and the proxy lets go of it', async () => {
    let upstreamClosed = false
    const endless = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }) // no content-length: chunked
      res.write('{"keys":["')
      const chunk = 'x'.repeat(16 * 1024)
      const timer = setInterval(() => res.write(chunk), 1)
      res.on('close', () => {
        clearInterval(timer)
        upstreamClosed = true
      })
    })
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve))
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          endless.close(() => resolve())
          endless.closeAllConnections()
        })
    )
    const port = (endless.address() as { port: number }).port
    const via = await proxy()
    through({ HTTP_PROXY: via.url })
    const url = `http://127.0.0.1:${port}/jwks`
    const error = await failure(fetchJson(url, OPTIONS))
    expect(error.message).toBe('response exceeds 65536 bytes')
    expect(via.requests).toEqual([{ via: 'tunnel', method: 'GET', url }])
    await expect.poll(() => upstreamClosed, { timeout: 2000 }).toBe(true)
  })

  it('does not follow a redirect', async () => {
    const [idp, via] = await Promise.all([issuer(), proxy()])
    through({ HTTP_PROXY: via.url })
    idp.setJwksFault({ redirectTo: idp.openidConfigurationUri })
    const error = await failure(fetchJson(idp.jwksUri, OPTIONS))
    expect(error.message).toBe(`${idp.jwksUri}: HTTP 302 (redirects are not followed)`)
    expect(via.requests.map((request) => request.url)).toEqual([idp.jwksUri])
    expect(idp.hits.openid).toBe(0)
  })
})

describe("the proxy's credentials", () => {
  const PASSWORD = 'p@ss w:rd'
  const credentialsUrl = (via: TestProxy, password: string): string =>
    `http://proxy-user:${encodeURIComponent(password)}@127.0.0.1:${via.port}`

  it('are sent (Proxy-Authorization, decoded from the URL) and not shown in the summary', async () => {
    const [idp, via] = await Promise.all([issuer(), proxy({ credentials: `proxy-user:${PASSWORD}` })])
    const outbound = useProxyFromEnvironment({ HTTPS_PROXY: credentialsUrl(via, PASSWORD), HTTP_PROXY: credentialsUrl(via, PASSWORD) })
    cleanups.push(() => outbound?.restore())
    expect(JSON.stringify(outbound?.summary)).not.toMatch(/proxy-user|p%40ss|p@ss/)
    expect(outbound?.summary).toEqual({ httpProxy: `${via.url}/`, httpsProxy: `${via.url}/` })
    await fetchJson(idp.jwksUri, OPTIONS)
    expect(via.authorizations).toEqual([`proxy-user:${PASSWORD}`])
    expect(via.requests).toHaveLength(1)
  })

  it('refused by the proxy (407): the key store fails and logs why, without the password', async () => {
    const [idp, via] = await Promise.all([issuer(), proxy({ credentials: 'proxy-user:right' })])
    through({ HTTP_PROXY: credentialsUrl(via, PASSWORD) })
    const { store, lines } = await startedKeyStore(idp, idp.jwksUri)
    expect(store.ready).toBe(false)
    expect(idp.hits.jwks).toBe(0)
    expect(via.authorizations).toContain(`proxy-user:${PASSWORD}`)
    const logged = lines.join('\n')
    expect(logged).toContain('issuer signing keys could not be fetched')
    expect(logged).toContain(`${idp.jwksUri}: Proxy response (407) !== 200 when HTTP Tunneling`)
    expect(logged).not.toMatch(/p@ss|p%40ss|w:rd|w%3Ard/)
  })
})

describe('unusable proxy settings', () => {
  it.each([
    [{ HTTPS_PROXY: 'corp-proxy:3128' }, 'HTTPS_PROXY'],
    [{ https_proxy: 'socks5://user:secret@corp-proxy:1080' }, 'https_proxy'],
    [{ HTTP_PROXY: 'http://user:secret@' }, 'HTTP_PROXY'],
    [{ HTTP_PROXY: 'not a url', HTTPS_PROXY: 'http://corp-proxy:3128' }, 'HTTP_PROXY']
  ])('%j is refused, naming %s, without its value', (env, variable) => {
    const error = (() => {
      try {
        useProxyFromEnvironment(env)
      } catch (thrown) {
        return thrown
      }
      return undefined
    })()
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).variable).toBe(variable)
    expect((error as ConfigError).message).not.toMatch(/secret|corp-proxy|not a url/)
  })

  it('no proxy variable, or empty ones: nothing to do', () => {
    expect(useProxyFromEnvironment({})).toBeUndefined()
    expect(useProxyFromEnvironment({ HTTPS_PROXY: '', http_proxy: '', NO_PROXY: 'example.com' })).toBeUndefined()
  })
})
