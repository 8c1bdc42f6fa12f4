/**
 * The body of the outbound-HTTP worker thread (fetch-json.ts starts it): the issuer's metadata,
 * its keys and introspection calls are fetched here, off the event loop's isolate.
 *
 * Why a thread: fetch() is undici, whose sockets, streams and response bodies have shapes of
 * their own. Run once on the event loop's isolate (the keys fetched at start-up are enough), it
 * leaves V8's inline caches in Node's stream and HTTP code megamorphic — `Readable`,
 * `socket.setTimeout`, `parserOnIncoming`, the response's `onFinish` — and every request the
 * server answers afterwards pays for it: about 1.5 µs of event-loop CPU per request, measured
 * on a bare Fastify route with and without one fetch at start-up (bench/RESULTS.md). Here those
 * shapes never reach the server's isolate.
 *
 * What it does with a request is what fetchJson did in-process: no redirects followed, 200 and a
 * JSON object only, the body read up to a size cap, the answer's Cache-Control max-age. The
 * deadline stays with the caller (fetch-json.ts), which sends an abort when it passes or when
 * its own signal aborts. A failure answers with its reason, for the logs.
 *
 * Outbound proxies (proxy.ts) are set per isolate: each request carries the settings the
 * process uses, and this thread applies them (Node's http.setGlobalProxyFromEnv) when they
 * differ from the ones it has.
 *
 * Loaded as it is by Node (types stripped) when the app runs from source, and as compiled
 * JavaScript from dist/: so it imports Node's own modules only (and types, which are erased).
 */
import * as http from 'node:http'
import { parentPort } from 'node:worker_threads'
import type { FetchedJson } from './fetch-json.js'

/** The proxy variables as Node's http.setGlobalProxyFromEnv reads them. */
export interface ProxySettings {
  http_proxy?: string
  https_proxy?: string
  no_proxy?: string
}

export interface FetchMessage {
  kind: 'fetch'
  id: number
  url: string
  method: 'GET' | 'POST'
  headers: Record<string, string>
  body?: string
  maxBytes: number
  /** The outbound proxies in use (none: direct connections). */
  proxy: ProxySettings | undefined
}

export interface AbortMessage {
  kind: 'abort'
  id: number
}

export type FetchAnswer = ({ id: number } & FetchedJson) | { id: number; error: string }

/** A failure whose message is the whole reason (the caller prefixes nothing). */
class Failed extends Error {}

function parseMaxAge(cacheControl: string | null): number | undefined {
  if (cacheControl === null) return undefined
  if (/(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)/i.test(cacheControl)) return 0
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl)
  return match?.[1] === undefined ? undefined : Number(match[1])
}

async function readCapped(response: Response, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? '0')
  if (declared > maxBytes) throw new Failed(`response of ${declared} bytes exceeds ${maxBytes}`)
  if (response.body === null) return Buffer.alloc(0)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of response.body) {
    size += chunk.byteLength
    if (size > maxBytes) throw new Failed(`response exceeds ${maxBytes} bytes`)
    chunks.push(Buffer.from(chunk))
  }
  return Buffer.concat(chunks)
}

/**
 * Why fetch() failed. undici hides the reason in `cause` (ECONNREFUSED, a certificate error,
 * "bad port"), at times a cause deeper: a proxy that refuses the tunnel gives a cancelled
 * request whose cause says "Proxy response (407) !== 200 when HTTP Tunneling". The deepest
 * cause wins: its system or TLS code, else its message (undici's own UND_ERR_ codes say less).
 */
function failureReason(error: unknown): string {
  let deepest = error as { code?: unknown; message?: unknown; cause?: unknown }
  for (let depth = 0; depth < 5 && typeof deepest.cause === 'object' && deepest.cause !== null; depth++) {
    deepest = deepest.cause as typeof deepest
  }
  const { code, message } = deepest
  if (typeof code === 'string' && !code.startsWith('UND_ERR_')) return code
  return typeof message === 'string' ? message : String(error)
}

/** The request and the reading of its answer, until `signal` aborts them; rejects with the reason. */
async function fetchHere(message: FetchMessage, signal: AbortSignal): Promise<FetchedJson> {
  const { url } = message
  let response: Response
  try {
    response = await fetch(url, {
      method: message.method,
      redirect: 'manual',
      signal,
      headers: { accept: 'application/json', ...message.headers },
      ...(message.body === undefined ? {} : { body: message.body })
    })
  } catch (error) {
    throw new Failed(`${url}: ${signal.aborted ? 'aborted' : failureReason(error)}`)
  }
  try {
    if (response.status !== 200) {
      throw new Failed(
        `${url}: HTTP ${response.status}${response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : ''}`
      )
    }
    const bytes = await readCapped(response, message.maxBytes)
    let body: unknown
    try {
      body = JSON.parse(bytes.toString('utf8'))
    } catch {
      throw new Failed(`${url}: response is not JSON`)
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Failed(`${url}: response is not a JSON object`)
    return { body: body as Record<string, unknown>, maxAge: parseMaxAge(response.headers.get('cache-control')) }
  } catch (error) {
    if (signal.aborted) throw new Failed(`${url}: aborted`)
    throw error instanceof Failed ? error : new Failed(`${url}: ${(error as Error).message}`)
  } finally {
    if (!response.bodyUsed && response.body !== null) await response.body.cancel().catch(() => undefined)
  }
}

/** The proxies this thread uses, as last applied (JSON), and how to put back direct connections. */
let appliedProxy = 'null'
let restoreProxy: (() => void) | undefined

function useProxy(settings: ProxySettings | undefined): void {
  const wanted = JSON.stringify(settings ?? null)
  if (wanted === appliedProxy) return
  restoreProxy?.()
  restoreProxy = undefined
  // proxy.ts refuses a Node without it before any proxy reaches here
  if (settings !== undefined) restoreProxy = http.setGlobalProxyFromEnv(settings as NodeJS.ProcessEnv)
  appliedProxy = wanted
}

if (parentPort !== null) {
  const port = parentPort
  const inFlight = new Map<number, AbortController>()
  port.on('message', (message: FetchMessage | AbortMessage) => {
    if (message.kind === 'abort') {
      inFlight.get(message.id)?.abort()
      return
    }
    const { id } = message
    const controller = new AbortController()
    inFlight.set(id, controller)
    let answer: Promise<FetchAnswer>
    try {
      useProxy(message.proxy)
      answer = fetchHere(message, controller.signal).then(
        (fetched): FetchAnswer => ({ id, ...fetched }),
        (error: unknown): FetchAnswer => ({ id, error: error instanceof Failed ? error.message : `${message.url}: ${String(error)}` })
      )
    } catch (error) {
      answer = Promise.resolve({ id, error: `${message.url}: ${(error as Error).message}` })
    }
    void answer.then((reply) => {
      inFlight.delete(id)
      port.postMessage(reply)
    })
  })
}
