/**
 * Serves the built demo SPA (spa/dist) on its own origin, so that the browser really crosses
 * origins to reach the issuer and the API (CORS included). Plain node:http, no dev tooling:
 * `/` and `/callback` get index.html, `/assets/*` the bundle, `/config.json` where the issuer
 * and the API are. Every answer carries a Content-Security-Policy that lets the page talk to
 * itself, the issuer and the API only, and `Referrer-Policy: no-referrer` so that the
 * authorization code in the callback URL never leaks in a Referer header.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFile } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const SPA_DIST = fileURLToPath(new URL('../spa/dist/', import.meta.url))

/** What the SPA reads from `/config.json` (see spa/src/config.ts). */
export interface SpaRuntimeConfig {
  issuer: string
  clientId: string
  apiUrl: string
  resource: string
  scope: string
}

export interface SpaServerOptions {
  /** Bind address; default `127.0.0.1`. */
  host?: string
  /** TCP port; default 0 (a free port). */
  port?: number
  /** The built SPA; default spa/dist. */
  distDir?: string
}

export interface SpaServer {
  /** e.g. `http://127.0.0.1:5173` */
  origin: string
  port: number
  /** Until this is called, `/config.json` answers 503. */
  setConfig(config: SpaRuntimeConfig): void
  close(): Promise<void>
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon'
}

const APP_ROUTES = new Set(['/', '/index.html', '/callback'])
const ASSET = /^\/assets\/([A-Za-z0-9_.-]+)$/

function contentSecurityPolicy(config: SpaRuntimeConfig | undefined): string {
  const connect = config === undefined ? [] : [new URL(config.issuer).origin, new URL(config.apiUrl).origin]
  return [
    "default-src 'self'",
    `connect-src 'self' ${connect.join(' ')}`.trim(),
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'"
  ].join('; ')
}

async function readOrUndefined(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

export async function startSpaServer(options: SpaServerOptions = {}): Promise<SpaServer> {
  const distDir = options.distDir ?? SPA_DIST
  let config: SpaRuntimeConfig | undefined

  const send = (res: ServerResponse, status: number, type: string, body: Buffer | string, cache: string): void => {
    res.statusCode = status
    res.setHeader('Content-Type', type)
    res.setHeader('Cache-Control', cache)
    res.setHeader('Content-Security-Policy', contentSecurityPolicy(config))
    res.setHeader('X-Content-Type-Options', 'nosniff')
    res.setHeader('Referrer-Policy', 'no-referrer')
    res.end(body)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      send(res, 405, 'text/plain; charset=utf-8', 'Method Not Allowed\n', 'no-store')
      return
    }
    const { pathname } = new URL(req.url ?? '/', 'http://spa.invalid')
    if (pathname === '/config.json') {
      if (config === undefined) send(res, 503, 'text/plain; charset=utf-8', 'Not configured yet\n', 'no-store')
      else send(res, 200, CONTENT_TYPES['.json'] ?? '', JSON.stringify(config), 'no-store')
      return
    }
    if (APP_ROUTES.has(pathname)) {
      const html = await readOrUndefined(join(distDir, 'index.html'))
      if (html === undefined) send(res, 503, 'text/plain; charset=utf-8', 'The SPA is not built: run `npm run build:spa`\n', 'no-store')
      else send(res, 200, CONTENT_TYPES['.html'] ?? '', html, 'no-store')
      return
    }
    const asset = ASSET.exec(pathname)?.[1]
    const body = asset === undefined ? undefined : await readOrUndefined(join(distDir, 'assets', asset))
    if (asset === undefined || body === undefined) {
      send(res, 404, 'text/plain; charset=utf-8', 'Not Found\n', 'no-store')
      return
    }
    // Vite puts a content hash in every asset name, so an asset never changes.
    send(res, 200, CONTENT_TYPES[extname(asset)] ?? 'application/octet-stream', body, 'public, max-age=31536000, immutable')
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      console.error('SPA server: request failed', error)
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'Internal Server Error\n', 'no-store')
      else res.end()
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address

  let closing: Promise<void> | undefined
  return {
    origin: `http://${host}:${address.port}`,
    port: address.port,
    setConfig(next) {
      config = { ...next }
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)))
        server.closeAllConnections()
      })
      return closing
    }
  }
}
