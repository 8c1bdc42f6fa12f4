/**
 * A JSON document from the issuer (metadata, keys) or its introspection endpoint, with the
 * safeguards remote calls need: a timeout (withTimeout), no redirects followed, a response
 * size cap, 200 and a JSON object only. Through a proxy too: HTTPS_PROXY / NO_PROXY are applied
 * to the process by proxy.ts, and these safeguards act on the request and its answer alike.
 */
import { CodedError } from '../errors.js'
import { withTimeout } from './timeout.js'

/** A remote document could not be obtained; the message says why, for the logs (never for a client). */
export class FetchFailed extends CodedError {
  override readonly name = 'FetchFailed'
  readonly code = 'ERR_FETCH_FAILED'
}

export interface FetchedJson {
  body: Record<string, unknown>
  /** Cache-Control max-age in seconds, when the response gave one. */
  maxAge: number | undefined
}

export interface FetchJsonOptions {
  timeoutMs: number
  maxBytes: number
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** Aborts the request early (e.g. when its owner shuts down). */
  signal?: AbortSignal
}

function parseMaxAge(cacheControl: string | null): number | undefined {
  if (cacheControl === null) return undefined
  if (/(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)/i.test(cacheControl)) return 0
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl)
  return match?.[1] === undefined ? undefined : Number(match[1])
}

async function readCapped(response: Response, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? '0')
  if (declared > maxBytes) throw new FetchFailed(`response of ${declared} bytes exceeds ${maxBytes}`)
  if (response.body === null) return Buffer.alloc(0)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of response.body) {
    size += chunk.byteLength
    if (size > maxBytes) throw new FetchFailed(`response exceeds ${maxBytes} bytes`)
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

/** The request and the reading of its answer, until `deadline` aborts them. */
async function request(url: string, options: FetchJsonOptions, deadline: AbortSignal): Promise<FetchedJson> {
  const signal = options.signal === undefined ? deadline : AbortSignal.any([deadline, options.signal])
  const aborted = (): boolean => options.signal?.aborted === true
  let response: Response
  try {
    response = await fetch(url, {
      method: options.method ?? 'GET',
      redirect: 'manual',
      signal,
      headers: { accept: 'application/json', ...options.headers },
      ...(options.body === undefined ? {} : { body: options.body })
    })
  } catch (error) {
    throw new FetchFailed(`${url}: ${aborted() ? 'aborted' : failureReason(error)}`)
  }
  try {
    if (response.status !== 200) {
      throw new FetchFailed(
        `${url}: HTTP ${response.status}${response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : ''}`
      )
    }
    const bytes = await readCapped(response, options.maxBytes)
    let body: unknown
    try {
      body = JSON.parse(bytes.toString('utf8'))
    } catch {
      throw new FetchFailed(`${url}: response is not JSON`)
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new FetchFailed(`${url}: response is not a JSON object`)
    return { body: body as Record<string, unknown>, maxAge: parseMaxAge(response.headers.get('cache-control')) }
  } catch (error) {
    if (aborted()) throw new FetchFailed(`${url}: aborted`)
    throw error instanceof FetchFailed ? error : new FetchFailed(`${url}: ${(error as Error).message}`)
  } finally {
    if (!response.bodyUsed && response.body !== null) await response.body.cancel().catch(() => undefined)
  }
}

export function fetchJson(url: string, options: FetchJsonOptions): Promise<FetchedJson> {
  return withTimeout(
    options.timeoutMs,
    (deadline) => request(url, options, deadline),
    () => new FetchFailed(`${url}: timed out after ${options.timeoutMs} ms`)
  )
}
