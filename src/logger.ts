/**
 * pino options: JSON logs with request ids; credentials never reach them. Authorization and
 * cookie headers are redacted wherever they appear, and a token in a query string is cut
 * out of the logged URL.
 */
import type { FastifyServerOptions } from 'fastify'
import type { LogLevel } from './config.js'

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'res.headers["set-cookie"]',
  '*.authorization',
  '*.access_token',
  '*.id_token',
  '*.refresh_token',
  '*.client_secret',
  '*.token'
]

/** Query parameters whose value is a credential, by their decoded name. */
const SECRET_PARAMETER = /^(?:access_token|id_token|refresh_token|token|code|client_secret)$/i
/** A JWS anywhere in a path (a token pasted where a path segment goes). */
const JWS_LIKE = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g

/**
 * The request URL as logs may hold it: credential parameters redacted by their decoded name
 * (`access%5Ftoken` is `access_token`), `;` path parameters cut, and JWS-shaped path segments
 * replaced.
 */
export function safeUrl(url: string): string {
  const q = url.indexOf('?')
  let path = q === -1 ? url : url.slice(0, q)
  const semicolon = path.indexOf(';')
  if (semicolon !== -1) path = `${path.slice(0, semicolon)};[Redacted]`
  path = path.replace(JWS_LIKE, '[Redacted]')
  if (q === -1) return path
  const query = url.slice(q + 1)
  const parameters = new URLSearchParams(query)
  let secret = false
  for (const name of parameters.keys()) if (SECRET_PARAMETER.test(name.trim())) secret = true
  if (!secret) return `${path}?${query.replace(JWS_LIKE, '[Redacted]')}`
  const kept: string[] = []
  for (const [name, value] of parameters) {
    kept.push(
      `${encodeURIComponent(name)}=${SECRET_PARAMETER.test(name.trim()) ? '[Redacted]' : encodeURIComponent(value).replace(JWS_LIKE, '[Redacted]')}`
    )
  }
  return `${path}?${kept.join('&')}`
}

export function loggerOptions(level: LogLevel): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  return {
    level,
    redact: { paths: REDACT, censor: '[Redacted]' },
    serializers: {
      req(request: { method: string; url: string; host?: string; ip?: string; id?: string }) {
        return { method: request.method, url: safeUrl(request.url), host: request.host, remoteAddress: request.ip }
      }
    }
  }
}
