/**
 * The gate: an `onRequest` hook that lets a request reach its handler only with a valid
 * access token carrying the route's scopes, before the body is read or validated.
 * Default-deny: a route is public only when its own options say `config: { public: true }`;
 * a protected route declares its scopes once, `config: { scopes: [...] }`, and the same
 * declaration feeds the OpenAPI `security` requirement.
 */
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import type { AccessTokenVerifier } from '../src/token/access-token-verifier.js'
import { extractBearerToken } from '../src/token/bearer-credentials.js'
import { AuthError, isAuthError } from '../src/token/errors.js'
import type { AccessTokenIdentity } from '../src/token/identity.js'
import { requireScopes } from '../src/token/scopes.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route answers without a token. Everything else requires one. */
    public?: boolean
    /** Scopes the route requires (all of them), matched exactly. */
    scopes?: readonly string[]
  }
  interface FastifyRequest {
    /** The verified caller on protected routes; null on public ones. */
    auth: AccessTokenIdentity | null
  }
}

export interface AuthPluginOptions {
  verifier: AccessTokenVerifier
}

const FORM = 'application/x-www-form-urlencoded'
const NO_SCOPES: readonly string[] = []

/** The verified caller of a protected route. */
export function callerOf (request: FastifyRequest): AccessTokenIdentity {
  if (request.auth === null) throw new Error('route is not protected by the auth plugin')
  return request.auth
}

function isForm (request: FastifyRequest): boolean {
  const type = request.headers['content-type']
  return type !== undefined && type.toLowerCase().startsWith(FORM)
}

async function auth (app: FastifyInstance, options: AuthPluginOptions): Promise<void> {
  const { verifier } = options
  const refusals = app.metrics.refusals
  /** Requests with no header whose form body must be read before answering 400 or 401. */
  const deferred = new WeakMap<FastifyRequest, AuthError>()

  app.decorateRequest('auth', null)

  function refuse (request: FastifyRequest, error: unknown, done: (error?: Error) => void): void {
    if (isAuthError(error)) {
      refusals.inc({ code: error.code })
      request.log.info({ auth: { code: error.code, reason: error.reason, claim: error.claim } }, 'request refused')
    }
    done(error as Error)
  }

  function accept (request: FastifyRequest, identity: AccessTokenIdentity, required: readonly string[], done: (error?: Error) => void): void {
    try {
      requireScopes(identity.scopes, required)
    } catch (error) {
      refuse(request, error, done)
      return
    }
    request.auth = identity
    done()
  }

  const gate: onRequestHookHandler = function (request, _reply, done) {
    if (request.is404 || request.method === 'OPTIONS') {
      done()
      return
    }
    // Read once: Fastify builds a new routeOptions object on every access.
    const config = request.routeOptions.config
    if (config.public === true) {
      done()
      return
    }
    const required = config.scopes ?? NO_SCOPES
    let token: string
    try {
      token = extractBearerToken(request.raw.rawHeaders, request.url)
    } catch (error) {
      if (isAuthError(error) && error.code === 'ERR_NO_CREDENTIALS' && isForm(request)) {
        deferred.set(request, error) // answered once the form body shows whether it holds a token
        done()
        return
      }
      refuse(request, error, done)
      return
    }
    let result: AccessTokenIdentity | Promise<AccessTokenIdentity>
    try {
      result = verifier.verify(token)
    } catch (error) {
      refuse(request, error, done)
      return
    }
    if (result instanceof Promise) {
      result.then((identity) => accept(request, identity, required, done), (error: unknown) => refuse(request, error, done))
    } else {
      accept(request, result, required, done)
    }
  }
  app.addHook('onRequest', gate)

  // RFC 6750 §2.2 (form body) is not a supported method: a token there is a malformed request.
  app.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: 64 * 1024 }, (request, body, done) => {
    const fields = new URLSearchParams(body as string)
    const pending = deferred.get(request)
    if (fields.has('access_token')) {
      refuse(request, pending !== undefined
        ? new AuthError('ERR_TOKEN_IN_BODY', 'Access tokens in the request body are not accepted; send the token in the Authorization header as "Bearer <token>".')
        : new AuthError('ERR_MULTIPLE_CREDENTIALS', 'The request carries an access token both in the Authorization header and in the body; send it in the Authorization header only.'),
      (error) => done(error ?? null))
      return
    }
    if (pending !== undefined) {
      refuse(request, pending, (error) => done(error ?? null))
      return
    }
    done(null, Object.fromEntries(fields))
  })
}

export default fp(auth, { name: 'auth', fastify: '5.x', dependencies: ['metrics', 'problem-details'] })
