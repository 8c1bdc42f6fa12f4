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

export function safeUrl (url: string): string {
  return url.replace(/([?&](?:access_token|id_token|token|code)=)[^&]*/gi, '$1[Redacted]')
}

export function loggerOptions (level: LogLevel): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  return {
    level,
    redact: { paths: REDACT, censor: '[Redacted]' },
    serializers: {
      req (request: { method: string; url: string; host?: string; ip?: string; id?: string }) {
        return { method: request.method, url: safeUrl(request.url), host: request.host, remoteAddress: request.ip }
      }
    }
  }
}
