/**
 * Every error leaves as application/problem+json (RFC 9457) with a stable `code`, with the
 * Bearer and DPoP challenges for authentication failures (RFC 6750 §3, RFC 9449 §7.1, as
 * AUTH_DPOP accepts them) and Retry-After for 503s.
 * Unknown routes get a problem 404; errors the framework raises before routing (a bad URL
 * component, a malformed request line, oversized headers) get one too, through the server
 * options `frameworkErrorOptions`. Nothing from the error's internals (message, stack, key,
 * token) reaches the body, except a validation error's description of the schema it failed.
 *
 * The challenge's `resource_metadata` is built once from PUBLIC_URL, never from the request.
 */
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import { challenges, type ChallengeSettings } from '../src/http/www-authenticate.js'
import { frameworkProblem, problem, PROBLEM_CONTENT_TYPE, sendProblem } from '../src/http/problem.js'
import { AuthError, isAuthError, isClientError } from '../src/errors.js'
import { DatabaseUnavailable } from '../src/db/database.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** PUBLIC_URL: the API's external base URL, without a trailing slash. */
    publicUrl: string
    /** The RFC 9728 metadata location that every Bearer challenge names. */
    resourceMetadataUrl: string
  }
}

export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource'

/**
 * Fastify server options (`Fastify({ ...frameworkErrorOptions })`) for the errors raised before
 * a request reaches the router or a reply exists: a problem body there too.
 */
export const frameworkErrorOptions = {
  frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
    sendProblem(reply, frameworkProblem(error))
  },
  clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    if (socket.writable) {
      const code =
        error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'ERR_REQUEST_TIMEOUT'
          : error.code === 'HPE_HEADER_OVERFLOW'
            ? 'ERR_HEADERS_TOO_LARGE'
            : 'ERR_BAD_REQUEST'
      const body = problem(code)
      const json = JSON.stringify(body)
      socket.write(
        `HTTP/1.1 ${body.status} ${body.title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`
      )
    }
    socket.destroy(error)
  }
} satisfies Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'>

async function problemDetails(app: FastifyInstance): Promise<void> {
  const { publicUrl, auth } = app.config
  const realm = auth.audiences[0] ?? 'api'
  app.decorate('publicUrl', publicUrl)
  app.decorate('resourceMetadataUrl', `${publicUrl}${RESOURCE_METADATA_PATH}`)
  const { dpop } = app
  const challengeSettings: ChallengeSettings = { realm, resourceMetadata: app.resourceMetadataUrl, mode: dpop.mode, algs: dpop.algs }

  app.setErrorHandler((error: FastifyError | AuthError | DatabaseUnavailable, request, reply) => {
    if (isAuthError(error)) {
      if (error.status === 503) {
        reply.header('retry-after', String(error.retryAfter ?? 5))
      } else if (error.status !== 400 || error.oauthError !== undefined) {
        reply.header('www-authenticate', challenges(challengeSettings, error, request.authScheme))
        // RFC 9449 §9: the nonce to put into the next proof
        if (dpop.nonces !== undefined && dpop.mode !== 'disabled') reply.header('dpop-nonce', dpop.nonces.current())
      }
      return sendProblem(reply, problem(error))
    }
    if (error instanceof DatabaseUnavailable) request.log.warn({ reason: error.reason }, 'database unavailable')
    // any other error a store or route throws for the client (a bad cursor, a limit reached): its code's problem
    if (isClientError(error)) {
      if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter))
      return sendProblem(reply, problem(error))
    }
    if (error.validation !== undefined) return sendProblem(reply, problem('ERR_VALIDATION', { message: error.message }))
    const body = frameworkProblem(error)
    if (body.status >= 500) request.log.error({ err: error }, 'unhandled error')
    return sendProblem(reply, body)
  })

  // While the server drains, requests on connections still open get a problem 503 and the
  // connection is closed, so keep-alive clients move to another replica. An answer that was in
  // flight when the drain began closes its connection too, so that a keep-alive client cannot
  // hold the drain open until the grace period ends the process. (Callback hooks, not async
  // ones: every request and response passes here, and an async hook costs each a promise and a
  // turn of the microtask queue.)
  let closing = false
  app.addHook('preClose', (done) => {
    closing = true
    done()
  })
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) {
      done()
      return
    }
    reply.header('connection', 'close')
    done(new AuthError('ERR_SHUTTING_DOWN', { retryAfter: 1 }))
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })

  app.setNotFoundHandler((request, reply) => {
    sendProblem(reply, problem('ERR_ROUTE_NOT_FOUND', { method: request.method.slice(0, 20) }))
  })
}

export default fp(problemDetails, { name: 'problem-details', fastify: '5.x', dependencies: ['config', 'dpop'] })
