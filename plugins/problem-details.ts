/**
 * Every error leaves as application/problem+json (RFC 9457), with the Bearer challenge
 * for authentication failures (RFC 6750 §3) and Retry-After for 503s. Unknown routes get a
 * problem 404. Nothing from the error's internals (stack, key, token) reaches the body.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { bearerChallenge } from '../src/http/www-authenticate.js'
import { PROBLEM_CONTENT_TYPE, problemType, STATUS_TITLES, type Problem } from '../src/http/problem.js'
import { AuthError, isAuthError } from '../src/token/errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Bearer realm and the RFC 9728 metadata location for challenges. */
    resourceMetadataUrl(request: FastifyRequest): string
  }
}

export interface ProblemDetailsOptions {
  realm: string
}

function send (reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem)
}

export function authProblem (error: AuthError): Problem {
  return {
    type: error.oauthError === undefined && error.status === 401 ? 'https://www.rfc-editor.org/rfc/rfc6750#section-3' : problemType(error.oauthError),
    title: error.status === 503 ? STATUS_TITLES[503] ?? error.title : error.title,
    status: error.status,
    detail: error.description,
    code: error.code
  }
}

async function problemDetails (app: FastifyInstance, options: ProblemDetailsOptions): Promise<void> {
  app.decorate('resourceMetadataUrl', (request: FastifyRequest) => `${request.protocol}://${request.host}/.well-known/oauth-protected-resource`)

  app.setErrorHandler((error: FastifyError | AuthError, request, reply) => {
    if (isAuthError(error)) {
      if (error.status === 503) {
        reply.header('retry-after', String(error.retryAfter ?? 5))
      } else if (error.status !== 400 || error.oauthError !== undefined) {
        reply.header('www-authenticate', bearerChallenge(options.realm, app.resourceMetadataUrl(request), error))
      }
      return send(reply, authProblem(error))
    }
    if (error.validation !== undefined) {
      return send(reply, { type: 'about:blank', title: 'Bad Request', status: 400, detail: error.message })
    }
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
    if (status === 500) {
      request.log.error({ err: error }, 'unhandled error')
      return send(reply, { type: 'about:blank', title: 'Internal Server Error', status, detail: 'The server could not complete the request.' })
    }
    return send(reply, { type: 'about:blank', title: STATUS_TITLES[status] ?? 'Error', status, detail: error.message })
  })

  // While the server drains, requests on connections still open get a problem 503 and the
  // connection is closed, so keep-alive clients move to another replica.
  let closing = false
  app.addHook('preClose', (done) => { closing = true; done() })
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) { done(); return }
    reply.header('connection', 'close')
    done(new AuthError('ERR_SHUTTING_DOWN', 'The server is shutting down; retry the request.', { retryAfter: 1 }))
  })

  app.setNotFoundHandler((request, reply) => {
    send(reply, { type: 'about:blank', title: 'Not Found', status: 404, detail: `No route ${request.method} ${request.url.split('?')[0] ?? ''}.` })
  })
}

export default fp(problemDetails, { name: 'problem-details', fastify: '5.x' })
