/**
 * A small forward proxy on real loopback HTTP (node:http), for the outbound-proxy tests:
 * absolute-form requests (`GET http://host/path`) and CONNECT tunnels, with Basic
 * credentials when asked (407 without them).
 *
 * Node's fetch opens a CONNECT tunnel for http targets too, and keeps it for the next
 * requests: counting CONNECTs alone would not show that each request went through. So a
 * tunnel that carries plain HTTP is served request by request (every one is recorded in
 * `requests`), and only a tunnel that carries TLS, which the proxy cannot read, is piped
 * as is (recorded once, in `connects`).
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'

export interface ProxiedRequest {
  via: 'absolute-form' | 'tunnel'
  method: string
  /** The absolute URL the request was for. */
  url: string
}

export interface TestProxy {
  /** http://127.0.0.1:PORT, without credentials. */
  url: string
  port: number
  /** The target (`host:port`) of every CONNECT that was let through, in order. */
  connects: string[]
  /** Every plain HTTP request forwarded, in order. */
  requests: ProxiedRequest[]
  /** Every Proxy-Authorization received, decoded (`user:password`), undefined when absent. */
  authorizations: Array<string | undefined>
  close(): Promise<void>
}

export interface StartTestProxyOptions {
  /** `user:password`: requests without them get 407. */
  credentials?: string
  /** Accept connections and requests, never answer (a proxy that has stopped working). */
  hang?: boolean
}

/** The first byte of a TLS handshake record. */
const TLS_HANDSHAKE = 0x16

function close(server: ReturnType<typeof createServer>): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve()
      return
    }
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

function listen(server: ReturnType<typeof createServer>): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      resolve(typeof address === 'object' && address !== null ? address.port : 0)
    })
  })
}

export async function startTestProxy(options: StartTestProxyOptions = {}): Promise<TestProxy> {
  const connects: string[] = []
  const requests: ProxiedRequest[] = []
  const authorizations: Array<string | undefined> = []
  const sockets = new Set<Socket>()
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
  }

  const authorized = (req: IncomingMessage): boolean => {
    const header = req.headers['proxy-authorization']
    const decoded = header?.startsWith('Basic ') === true ? Buffer.from(header.slice(6), 'base64').toString('utf8') : undefined
    authorizations.push(decoded)
    return options.credentials === undefined || decoded === options.credentials
  }

  const forward = (req: IncomingMessage, res: ServerResponse, target: URL, via: ProxiedRequest['via']): void => {
    requests.push({ via, method: req.method ?? 'GET', url: target.href })
    const headers = { ...req.headers }
    delete headers['proxy-authorization']
    delete headers['proxy-connection']
    const upstream = request(target, { method: req.method, headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    })
    // the client gave up (its timeout, its size cap): so does the proxy
    res.on('close', () => upstream.destroy())
    req.pipe(upstream)
  }

  // The plain HTTP inside the tunnels: each tunnel reaches it on its own connection, whose
  // port says which CONNECT target it was opened for.
  const tunnelTargets = new Map<number, string>()
  const inner = createServer((req, res) => {
    const authority = tunnelTargets.get(req.socket.remotePort ?? 0)
    if (authority === undefined) {
      res.writeHead(502)
      res.end()
      return
    }
    forward(req, res, new URL(req.url ?? '/', `http://${authority}`), 'tunnel')
  })
  inner.on('connection', track)
  const innerPort = await listen(inner)

  const server = createServer((req, res) => {
    if (options.hang === true) return
    if (!authorized(req)) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test proxy"' })
      res.end()
      return
    }
    const target = URL.parse(req.url ?? '')
    if (target === null || target.protocol !== 'http:') {
      res.writeHead(400)
      res.end()
      return
    }
    forward(req, res, target, 'absolute-form')
  })
  server.on('connection', track)
  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (options.hang === true) return
    if (!authorized(req)) {
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test proxy"\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const authority = req.url ?? ''
    const separator = authority.lastIndexOf(':')
    connects.push(authority)
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    const route = (first: Buffer): void => {
      const tls = first[0] === TLS_HANDSHAKE
      const upstream = tls
        ? connect(Number(authority.slice(separator + 1)), authority.slice(0, separator).replace(/^\[|\]$/g, ''))
        : connect(innerPort, '127.0.0.1')
      track(upstream)
      if (!tls) upstream.once('connect', () => tunnelTargets.set(upstream.localPort ?? 0, authority))
      upstream.on('close', () => socket.destroy())
      socket.on('close', () => upstream.destroy())
      upstream.write(first)
      socket.pipe(upstream).pipe(socket)
    }
    if (head.length > 0) route(head)
    else socket.once('data', route)
  })
  const port = await listen(server)

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connects,
    requests,
    authorizations,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await Promise.all([close(server), close(inner)])
    }
  }
}
