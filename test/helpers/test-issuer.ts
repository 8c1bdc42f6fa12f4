/**
 * A controllable OAuth 2.0 / OpenID issuer on real loopback HTTP (node:http only), for fault
 * tests: discovery (OIDC and RFC 8414), JWKS, RFC 7662 introspection, with injectable faults
 * (status, body, delay, hang, redirect, headers), key rotation, stop/start on the same port.
 *
 * Paths, with base = issuerPath without a terminating '/':
 *   GET  {base}/.well-known/openid-configuration            (discovery 'openid' or 'both')
 *   GET  /.well-known/oauth-authorization-server{base}      (discovery 'oauth' or 'both')
 *   GET  {base}/jwks                                        (jwks_uri)
 *   POST {base}/introspect                                  (introspection_endpoint, form body)
 *   POST {base}/token, GET {base}/authorize                 (dummies: 400 / 400)
 * Repeated slashes in a request path are collapsed, so an API that builds
 * `${issuer}/.well-known/...` from an issuer with a trailing slash still finds the document.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { TestKey } from './keys.js'

export interface JwksFault {
  /** Response status (default 200; with no `body`, a non-2xx status gets a small JSON error body). */
  status?: number
  /** Exact response body (e.g. 'not json', a 5 MB string). Default: the normal document. */
  body?: string
  /** Answer after this many milliseconds. */
  delayMs?: number
  /** Never answer (until close()/stop()). */
  hang?: boolean
  /** Answer 302 with this Location. */
  redirectTo?: string
  /** Extra or overriding response headers. */
  headers?: Record<string, string>
}

export interface IntrospectionRequest {
  token: string
  tokenTypeHint?: string
  authorization?: string
  /** Every form field as sent. */
  form: Record<string, string>
}

export interface IntrospectionAnswer {
  status?: number
  /** JSON-serialised unless a string. */
  body: unknown
  delayMs?: number
  hang?: boolean
}

export interface TestIssuer {
  /** Issuer identifier, 'http://127.0.0.1:PORT' plus issuerPath when given. */
  url: string
  port: number
  jwksUri: string
  introspectionUri: string
  openidConfigurationUri: string
  oauthMetadataUri: string
  hits: { openid: number; oauth: number; jwks: number; introspection: number }
  /** Extra fields merged (last) into both discovery documents; mutable. */
  metadata: Record<string, unknown>
  setKeys(keys: Array<TestKey | Record<string, unknown>>): void
  setJwksFault(fault: JwksFault | null): void
  setDiscoveryFault(fault: JwksFault | null): void
  setCacheControl(value: string | null): void
  /** Stop listening (connections refused; open sockets destroyed) but keep the port. */
  stop(): Promise<void>
  /** Listen again on the same port. */
  start(): Promise<void>
  /** Close everything, including hanging sockets. */
  close(): Promise<void>
  /** Serves POST {base}/introspect. Default (unset): 200 {"active": false}. */
  onIntrospect?: (req: IntrospectionRequest) => IntrospectionAnswer | Promise<IntrospectionAnswer>
}

export interface StartTestIssuerOptions {
  keys: TestKey[]
  discovery?: 'openid' | 'oauth' | 'both' | 'none'
  /** e.g. '/realms/test' or '/' (Auth0-style trailing slash). */
  issuerPath?: string
  port?: number
}

function isTestKey(value: TestKey | Record<string, unknown>): value is TestKey {
  return typeof value === 'object' && value !== null && 'privateKey' in value && 'publicJwk' in value
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

export async function startTestIssuer(opts: StartTestIssuerOptions): Promise<TestIssuer> {
  const mode = opts.discovery ?? 'both'
  const rawPath = opts.issuerPath ?? ''
  if (rawPath !== '' && !rawPath.startsWith('/')) throw new Error('issuerPath must start with "/"')
  const base = rawPath.replace(/\/+$/, '')

  let jwkSet: Record<string, unknown>[] = opts.keys.map((k) => k.publicJwk)
  let jwksFault: JwksFault | null = null
  let discoveryFault: JwksFault | null = null
  let cacheControl: string | null = null
  let closed = false

  const sockets = new Set<Socket>()
  const pending = new Set<ServerResponse>()
  const timers = new Set<NodeJS.Timeout>()

  const delay = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t)
        resolve()
      }, ms)
      timers.add(t)
    })

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
    if (res.destroyed || res.writableEnded) return
    const finalHeaders: Record<string, string> = { 'content-type': 'application/json', ...headers }
    finalHeaders['content-length'] = String(Buffer.byteLength(body))
    res.writeHead(status, finalHeaders)
    res.end(body)
  }

  /** Applies a fault (or none) and answers with the normal document otherwise. */
  const answer = async (
    res: ServerResponse,
    fault: JwksFault | null,
    normal: () => string,
    headers: Record<string, string> = {}
  ): Promise<void> => {
    if (fault?.hang === true) {
      pending.add(res)
      res.on('close', () => pending.delete(res))
      return
    }
    if (fault?.delayMs !== undefined && fault.delayMs > 0) {
      pending.add(res)
      res.on('close', () => pending.delete(res))
      await delay(fault.delayMs)
      pending.delete(res)
      if (res.destroyed) return
    }
    if (fault?.redirectTo !== undefined) {
      send(res, fault.status ?? 302, fault.body ?? '', { ...headers, location: fault.redirectTo, ...fault.headers })
      return
    }
    const status = fault?.status ?? 200
    let body: string
    if (fault?.body !== undefined) body = fault.body
    else if (status >= 200 && status < 300) body = normal()
    else body = JSON.stringify({ error: 'server_error', status })
    send(res, status, body, { ...headers, ...fault?.headers })
  }

  const issuer: TestIssuer = {
    url: '',
    port: 0,
    jwksUri: '',
    introspectionUri: '',
    openidConfigurationUri: '',
    oauthMetadataUri: '',
    hits: { openid: 0, oauth: 0, jwks: 0, introspection: 0 },
    metadata: {},
    setKeys(keys) {
      jwkSet = keys.map((k) => (isTestKey(k) ? k.publicJwk : k))
    },
    setJwksFault(fault) {
      jwksFault = fault
    },
    setDiscoveryFault(fault) {
      discoveryFault = fault
    },
    setCacheControl(value) {
      cacheControl = value
    },
    stop: async () => {},
    start: async () => {},
    close: async () => {}
  }

  const discoveryDocument = (): string => {
    const origin = `http://127.0.0.1:${issuer.port}`
    return JSON.stringify({
      issuer: issuer.url,
      jwks_uri: issuer.jwksUri,
      introspection_endpoint: issuer.introspectionUri,
      token_endpoint: `${origin}${base}/token`,
      authorization_endpoint: `${origin}${base}/authorize`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      ...issuer.metadata
    })
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Not new URL(req.url): a path starting with '//' would be read as a host.
    const rawUrl = req.url ?? '/'
    const queryAt = rawUrl.indexOf('?')
    const path = (queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt)).replace(/\/{2,}/g, '/')
    const method = req.method ?? 'GET'

    if (path === `${base}/.well-known/openid-configuration`) {
      issuer.hits.openid++
      if (method !== 'GET' && method !== 'HEAD') return send(res, 405, '{"error":"method_not_allowed"}')
      if (mode !== 'openid' && mode !== 'both') return send(res, 404, '{"error":"not_found"}')
      return answer(res, discoveryFault, discoveryDocument)
    }
    if (path === `/.well-known/oauth-authorization-server${base}`) {
      issuer.hits.oauth++
      if (method !== 'GET' && method !== 'HEAD') return send(res, 405, '{"error":"method_not_allowed"}')
      if (mode !== 'oauth' && mode !== 'both') return send(res, 404, '{"error":"not_found"}')
      return answer(res, discoveryFault, discoveryDocument)
    }
    if (path === `${base}/jwks`) {
      issuer.hits.jwks++
      const headers: Record<string, string> = { 'content-type': 'application/jwk-set+json' }
      if (cacheControl !== null) headers['cache-control'] = cacheControl
      return answer(res, jwksFault, () => JSON.stringify({ keys: jwkSet }), headers)
    }
    if (path === `${base}/introspect`) {
      issuer.hits.introspection++
      if (method !== 'POST') return send(res, 405, '{"error":"method_not_allowed"}')
      const raw = await readBody(req)
      const form = Object.fromEntries(new URLSearchParams(raw))
      const request: IntrospectionRequest = {
        token: form.token ?? '',
        ...(form.token_type_hint !== undefined ? { tokenTypeHint: form.token_type_hint } : {}),
        ...(req.headers.authorization !== undefined ? { authorization: req.headers.authorization } : {}),
        form
      }
      const result: IntrospectionAnswer =
        issuer.onIntrospect !== undefined ? await issuer.onIntrospect(request) : { body: { active: false } }
      const body = typeof result.body === 'string' ? result.body : JSON.stringify(result.body)
      const fault: JwksFault = {
        status: result.status ?? 200,
        body,
        ...(result.delayMs !== undefined ? { delayMs: result.delayMs } : {}),
        ...(result.hang !== undefined ? { hang: result.hang } : {})
      }
      return answer(res, fault, () => body)
    }
    if (path === `${base}/token` || path === `${base}/authorize`) {
      return send(res, 400, '{"error":"unsupported_grant_type","error_description":"test issuer: dummy endpoint"}')
    }
    return send(res, 404, '{"error":"not_found"}')
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      send(res, 500, JSON.stringify({ error: 'test_issuer_failure', detail: String(err) }))
    })
  })
  server.keepAliveTimeout = 1000
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(err)
      }
      server.once('error', onError)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', onError)
        resolve()
      })
    })

  const shutdown = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) {
        for (const s of sockets) s.destroy()
        resolve()
        return
      }
      server.close(() => resolve())
      for (const res of pending) res.destroy()
      pending.clear()
      for (const s of sockets) s.destroy()
      server.closeAllConnections()
    })

  await listen(opts.port ?? 0)
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('test issuer: no TCP address')
  const port = address.port
  const origin = `http://127.0.0.1:${port}`
  issuer.port = port
  issuer.url = `${origin}${rawPath}`
  issuer.jwksUri = `${origin}${base}/jwks`
  issuer.introspectionUri = `${origin}${base}/introspect`
  issuer.openidConfigurationUri = `${origin}${base}/.well-known/openid-configuration`
  issuer.oauthMetadataUri = `${origin}/.well-known/oauth-authorization-server${base}`

  issuer.stop = async () => {
    await shutdown()
  }
  issuer.start = async () => {
    if (closed) throw new Error('test issuer: start() after close()')
    if (!server.listening) await listen(port)
  }
  issuer.close = async () => {
    closed = true
    for (const t of timers) clearTimeout(t)
    timers.clear()
    await shutdown()
  }
  return issuer
}
