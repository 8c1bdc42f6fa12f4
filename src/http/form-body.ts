/**
 * RFC 6750 §2.2 (a token in a form-encoded body) is not a supported method here. The gate
 * still tells a client that sent one that its request is malformed (400) rather than merely
 * unauthenticated (401), and for that it may look at the start of such a body — never past a
 * few kilobytes or a short wait, and never to let the request through: the answer is a
 * refusal either way.
 */
import type { Readable } from 'node:stream'

const FORM = 'application/x-www-form-urlencoded'

/** Methods whose body has defined semantics (RFC 6750 §2.2 rules out GET; HEAD and OPTIONS carry none). */
const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** The media type of a Content-Type value, lower-cased, without parameters. */
export function mediaType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined
  const semicolon = contentType.indexOf(';')
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase()
}

/** The request could carry an RFC 6750 §2.2 form-body token: a form body on a method that has one. */
export function mayCarryFormToken(method: string, contentType: string | undefined): boolean {
  return BODY_METHODS.has(method) && mediaType(contentType) === FORM
}

export function formHasToken(body: string): boolean {
  return new URLSearchParams(body).has('access_token')
}

export interface PeekLimits {
  /** Bytes read at most; a longer body is judged by its start. */
  maxBytes: number
  /** Milliseconds waited at most for the body (a body that stalls is judged by what came). */
  timeoutMs: number
}

/**
 * Whether the first `maxBytes` of a form body that arrive within `timeoutMs` hold an
 * `access_token` field. Never rejects; what is left of the body is not read here.
 */
export function peekFormToken(body: Readable, declaredLength: number | undefined, limits: PeekLimits): Promise<boolean> {
  if (declaredLength === 0) return Promise.resolve(false)
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    let settled = false
    const stop = (): void => {
      clearTimeout(timer)
      body.off('data', onData)
      body.off('end', finish)
      body.off('error', finish)
      body.off('close', finish)
      body.pause()
    }
    const finish = (): void => {
      if (settled) return
      settled = true
      stop()
      // A name cut at the limit does not count; a whole name with its value cut still does.
      resolve(formHasToken(Buffer.concat(chunks, Math.min(size, limits.maxBytes)).toString('latin1')))
    }
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      if (size >= limits.maxBytes) {
        finish()
        return
      }
      // A token field already whole (its name ended by "=" or "&") settles it without waiting for the rest.
      const text = Buffer.concat(chunks, size).toString('latin1')
      const end = Math.max(text.lastIndexOf('='), text.lastIndexOf('&'))
      if (end !== -1 && formHasToken(text.slice(0, end + 1))) {
        settled = true
        stop()
        resolve(true)
      }
    }
    const timer = setTimeout(finish, limits.timeoutMs)
    body.on('data', onData)
    body.once('end', finish)
    body.once('error', finish)
    body.once('close', finish)
  })
}
