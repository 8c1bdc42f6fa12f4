/**
 * The gate. Registered before any other plugin or route, it sees every route the app
 * declares (`onRoute`) and makes each one public or protected at registration:
 *
 * - public only when the route's own options say `config: { public: true }`;
 * - every other route is protected: the gate runs as its first route-level `onRequest`
 *   hook, before the body is read or validated, and its decision is final — it either
 *   attaches the verified caller to the request or answers the request itself (400, 401,
 *   403, 503); there is no path on which it lets a request through undecided;
 * - the route's handler is wrapped so that it cannot run without a verified caller, and
 *   TypeScript types `request.auth` as the caller (never null) in a handler whose config
 *   declares `scopes`, and as `undefined` in a public one.
 *
 * A protected route declares its scopes once, `config: { scopes: [...] }`, and its plugin says
 * what they mean (`app.describeScopes({...})`); the same declarations feed the OpenAPI
 * `security` requirements and scope descriptions, RFC 9728 `scopes_supported`, and the scopes
 * the development issuer grants.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, RouteHandlerMethod, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { mayCarryFormToken, peekFormToken } from '../src/http/form-body.js'
import { extractCredentials, type AuthScheme, type Credentials } from '../src/token/bearer-credentials.js'
import { AuthError, isAuthError } from '../src/errors.js'
import { checkSenderConstraint } from '../src/token/access-token-claims.js'
import type { AccessTokenIdentity } from '../src/token/identity.js'
import { requireScopes } from '../src/token/scopes.js'

/** What a handler may read of the caller, from its route's `config`. */
export type CallerOf<Config> = Config extends { public: true }
  ? undefined
  : Config extends { scopes: readonly string[] }
    ? AccessTokenIdentity
    : AccessTokenIdentity | null

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route answers without a token. Every other route requires one. */
    public?: true
    /** Scopes the route requires (all of them), matched exactly. */
    scopes?: readonly string[]
  }
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- the parameters must match Fastify's declaration
  interface FastifyRequest<RouteGeneric, RawServer, RawRequest, SchemaCompiler, TypeProvider, ContextConfig, Logger, RequestType> {
    /**
     * The verified caller: never null in a handler whose route declares `scopes` (the gate
     * answered every request that has none), undefined in a public route's handler.
     */
    readonly auth: CallerOf<ContextConfig>
    /** The scheme the request's credentials named (Bearer or DPoP), once the gate has read them; null before, or without any. */
    readonly authScheme: AuthScheme | null
    /**
     * The gate took `auth` from the verified-token cache: the same (frozen) identity object as
     * its token's earlier requests got, and will get, so that work done per identity can be
     * memoized by it. False for a token verified in full (a one-off token's identity is never
     * seen again: memoizing it only costs).
     */
    readonly authCached: boolean
  }
  interface FastifyInstance {
    /** Every route the app serves, as the gate registered it (filled while routes are declared). */
    readonly routeTable: readonly GatedRoute[]
    /** Declares what scopes mean, next to the routes that require them (for OpenAPI, RFC 9728, the development issuer). */
    describeScopes(descriptions: Readonly<Record<string, string>>): void
    /** Every scope some route requires, with its description (known once the app is ready). */
    scopes(): readonly ScopeDeclaration[]
  }
}

export interface ScopeDeclaration {
  readonly name: string
  /** As the routes' plugin declared it (undefined where none did). */
  readonly description: string | undefined
  /** "METHOD url" of each route that requires it. */
  readonly requiredBy: readonly string[]
}

export interface GatedRoute {
  readonly method: string
  readonly url: string
  /** Settled once every plugin's `onRoute` hook has seen the route (at ready). */
  readonly public: boolean
  readonly scopes: readonly string[]
}

/** How much of an unauthenticated form body the gate reads to tell a body token (400) from none (401). */
const FORM_PEEK = { maxBytes: 16 * 1024, timeoutMs: 1000 }
const FORM = 'application/x-www-form-urlencoded'

/** What a route's config makes of it: public or protected with its scopes, or a declaration that stops start-up. */
export type RouteSettlement = { readonly public: boolean; readonly scopes: readonly string[] } | { readonly error: string }

/**
 * The one rule that makes a route public: its config says `public: true` and declares no
 * scopes. Anything else is protected (default deny); scopes that are not a list of scope
 * names, or `public: true` with scopes, are refused. The onReady settlement applies it, and
 * so does the route's onRequest list when Fastify reads it (the gate is left out only of a
 * route this calls public), so the two cannot disagree.
 */
export function settleRoute(method: string, url: string, config: RouteOptions['config']): RouteSettlement {
  const declared = config ?? {}
  const scopes: unknown = declared.scopes ?? []
  if (!Array.isArray(scopes) || scopes.some((scope) => typeof scope !== 'string' || scope === '' || /\s/.test(scope))) {
    return { error: `route ${method} ${url}: config.scopes must be a list of scope names` }
  }
  if (declared.public === true && scopes.length > 0) return { error: `route ${method} ${url} is declared both public and with scopes` }
  return { public: declared.public === true, scopes: Object.freeze([...(scopes as string[])]) }
}

/** Public only when settled as public; a refused declaration keeps the gate (start-up stops at ready anyway). */
const isPublic = (settled: RouteSettlement): boolean => !('error' in settled) && settled.public

interface RouteEntry {
  method: string
  url: string
  public: boolean
  scopes: readonly string[]
  /** The route's options, read once every onRoute hook has run (a later one may mark it public). */
  options: RouteOptions
}

/**
 * What the gate learns of a request's caller, in the one field it adds to every request: null
 * until the request's credentials are read (and on a public route). `request.auth`,
 * `authScheme` and `authCached` are getters on the request prototype that read it. Each field a
 * plugin decorates requests with is one more store in the constructor of every request, public
 * routes' included, and Fastify's loop over them stores by a changing key (slow once there are
 * several); one field keeps that store a single, fixed one.
 */
interface Caller {
  scheme: AuthScheme
  identity: AccessTokenIdentity | null
  cached: boolean
}
const CALLER = Symbol('caller')
type WithCaller = { [CALLER]: Caller | null }
const callerOf = (request: FastifyRequest): Caller | null => (request as unknown as WithCaller)[CALLER]

async function auth(app: FastifyInstance): Promise<void> {
  const { verifier, dpop } = app
  const { refusals } = app.metrics
  const routes: RouteEntry[] = []
  const descriptions = new Map<string, string>()

  app.decorateRequest(CALLER, null)
  app.decorateRequest('auth', {
    getter(this: FastifyRequest) {
      return callerOf(this)?.identity ?? null
    }
  })
  app.decorateRequest('authScheme', {
    getter(this: FastifyRequest) {
      return callerOf(this)?.scheme ?? null
    }
  })
  app.decorateRequest('authCached', {
    getter(this: FastifyRequest) {
      return callerOf(this)?.cached ?? false
    }
  })
  app.decorate('routeTable', routes)
  app.decorate('describeScopes', (declared: Readonly<Record<string, string>>) => {
    for (const [name, description] of Object.entries(declared)) {
      const known = descriptions.get(name)
      if (known !== undefined && known !== description) throw new Error(`scope ${name} is described twice, differently`)
      descriptions.set(name, description)
    }
  })
  app.decorate('scopes', () => {
    const declared = new Map<string, string[]>()
    for (const route of routes) {
      // the HEAD route Fastify adds beside each GET says nothing more
      if (route.method === 'HEAD' && routes.some((other) => other.method === 'GET' && other.url === route.url)) continue
      for (const scope of route.scopes) declared.set(scope, [...(declared.get(scope) ?? []), `${route.method} ${route.url}`])
    }
    return [...declared].map(([name, requiredBy]) => ({ name, description: descriptions.get(name), requiredBy }))
  })

  function refuse(request: FastifyRequest, error: unknown, done: (error?: Error) => void): void {
    if (isAuthError(error)) {
      refusals.inc({ code: error.code })
      request.log.info({ auth: { code: error.code, reason: error.reason, claim: error.claim, issuer: error.issuer } }, 'request refused')
    }
    done(error as Error)
  }

  function accept(
    request: FastifyRequest,
    caller: Caller,
    identity: AccessTokenIdentity,
    required: readonly string[],
    cached: boolean,
    done: (error?: Error) => void
  ): void {
    try {
      requireScopes(identity.scopes, required)
    } catch (error) {
      refuse(request, error, done)
      return
    }
    caller.identity = identity
    caller.cached = cached
    done()
  }

  /** No usable credentials: 401, or 400 when a form body turns out to carry a token. Always a refusal. */
  function refuseWithoutCredentials(request: FastifyRequest, error: AuthError, done: (error?: Error) => void): void {
    if (error.code !== 'ERR_NO_CREDENTIALS' || !mayCarryFormToken(request.method, request.headers['content-type'])) {
      refuse(request, error, done)
      return
    }
    const declared = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length'])
    void peekFormToken(request.raw, declared, FORM_PEEK).then((hasToken) => {
      refuse(request, hasToken ? new AuthError('ERR_TOKEN_IN_BODY') : error, done)
    })
  }

  const replayed = (): AuthError => new AuthError('ERR_DPOP_PROOF_REPLAYED', { reason: 'jti seen before' })

  /**
   * The scheme against the token's key binding (RFC 9449 §7): a bound token never as Bearer;
   * with DPoP, a bound token and a proof by its key, used once. Resolves with the identity to accept.
   */
  function holdToScheme(
    request: FastifyRequest,
    credentials: Credentials,
    identity: AccessTokenIdentity
  ): AccessTokenIdentity | Promise<AccessTokenIdentity> {
    if (credentials.scheme === 'Bearer') {
      checkSenderConstraint(identity.claims as Record<string, unknown>, identity.format)
      return identity
    }
    const jkt = identity.binding?.jkt
    if (jkt === undefined) {
      throw new AuthError('ERR_DPOP_TOKEN_NOT_BOUND', { reason: identity.binding === undefined ? 'no cnf' : 'cnf without jkt' })
    }
    const proof = credentials.proof ?? ''
    return dpop.proofs
      .verify(proof, {
        method: request.method,
        url: request.raw.url ?? request.url,
        accessToken: credentials.token,
        // the same object for every request with this (cached) token: its ath is computed once
        tokenRecord: identity,
        now: dpop.now() / 1000
      })
      .then((checked) => {
        if (checked.jkt !== jkt) throw new AuthError('ERR_DPOP_KEY_MISMATCH', { reason: 'proof key is not cnf.jkt' })
        // the in-process store answers at once (no further promise); the proof's key is its owner (its share of the store)
        const first = dpop.replay.firstUse(checked.replayKey, checked.replayUntil, checked.jkt)
        if (first === true) return identity
        if (first === false) throw replayed()
        return first.then((isFirst) => {
          if (!isFirst) throw replayed()
          return identity
        })
      })
  }

  function authenticate(request: FastifyRequest, reply: FastifyReply, required: readonly string[], done: (error?: Error) => void): void {
    let credentials: Credentials
    try {
      credentials = extractCredentials(request.raw.rawHeaders, request.url, dpop.mode)
    } catch (error) {
      if (isAuthError(error)) refuseWithoutCredentials(request, error, done)
      else refuse(request, error, done)
      return
    }
    const caller: Caller = { scheme: credentials.scheme, identity: null, cached: false }
    ;(request as unknown as WithCaller)[CALLER] = caller
    // RFC 9449 §9: a fresh nonce on every DPoP answer, so that a client rotates before its nonce expires
    if (credentials.scheme === 'DPoP' && dpop.nonces !== undefined) reply.header('dpop-nonce', dpop.nonces.current())
    let result: AccessTokenIdentity | Promise<AccessTokenIdentity>
    // a verifier answers synchronously only from its verified-token cache
    let cached = false
    try {
      result = verifier.verify(credentials.token)
      cached = !(result instanceof Promise)
      result =
        result instanceof Promise
          ? result.then((identity) => holdToScheme(request, credentials, identity))
          : holdToScheme(request, credentials, result)
    } catch (error) {
      refuse(request, error, done)
      return
    }
    if (result instanceof Promise) {
      result.then(
        (identity) => accept(request, caller, identity, required, cached, done),
        (error: unknown) => refuse(request, error, done)
      )
    } else {
      accept(request, caller, result, required, cached, done)
    }
  }

  function gateFor(entry: RouteEntry): onRequestHookHandler {
    return function gate(request, reply, done) {
      if (entry.public) done()
      else authenticate(request, reply, entry.scopes, done)
    }
  }

  /** The handler, reachable only with a verified caller on a protected route (the gate makes this so; this proves it). */
  function guard(entry: RouteEntry, handler: RouteHandlerMethod): RouteHandlerMethod {
    return function guarded(this: FastifyInstance, request, reply) {
      if (!entry.public && request.auth === null) {
        request.log.error({ route: `${entry.method} ${entry.url}` }, 'a protected handler was reached without a verified caller; refused')
        throw new AuthError('ERR_NO_CREDENTIALS', { reason: 'reached the handler unauthenticated' })
      }
      return handler.call(this, request, reply)
    }
  }

  app.addHook('onRoute', (route) => {
    const entry: RouteEntry = { method: String(route.method), url: route.url, public: false, scopes: [], options: route }
    routes.push(entry)
    const gate = gateFor(entry)
    const asList = (value: RouteOptions['onRequest']): onRequestHookHandler[] =>
      value === undefined ? [] : Array.isArray(value) ? (value as onRequestHookHandler[]) : [value as onRequestHookHandler]
    let hooks = [gate, ...asList(route.onRequest)]
    // The gate runs first on every route that is not public, and not at all on a public one: a
    // hook that would only call done() still costs each request Fastify's hook runner. Whether
    // the route is public is known only once every onRoute hook has seen it (a later one may
    // mark it public), so the route's onRequest list is an accessor: Fastify reads it when it
    // builds the route's context, after every onRoute hook and before onReady, and gets the gate
    // first unless the route is public by then. A later hook that replaces the list (or strips
    // the gate from it) still gets the gate put back in front; the handler guard below holds
    // whatever happens.
    Object.defineProperty(route, 'onRequest', {
      configurable: true,
      enumerable: true,
      get(): onRequestHookHandler[] {
        const at = hooks.indexOf(gate)
        if (isPublic(settleRoute(entry.method, entry.url, route.config))) {
          if (at !== -1) hooks.splice(at, 1)
        } else if (at !== 0) {
          if (at !== -1) hooks.splice(at, 1)
          hooks.unshift(gate)
        }
        return hooks
      },
      set(value: RouteOptions['onRequest']) {
        hooks = asList(value)
      }
    })
    route.handler = guard(entry, route.handler)
  })

  // Every onRoute hook has run by now (a plugin may mark its own routes public in one): settle
  // each route, and refuse to start on a declaration that contradicts itself.
  app.addHook('onReady', (done) => {
    for (const entry of routes) {
      const settled = settleRoute(entry.method, entry.url, entry.options.config)
      if ('error' in settled) {
        done(new Error(settled.error))
        return
      }
      entry.public = settled.public
      entry.scopes = settled.scopes
    }
    done()
  })

  // This parser exists to tell a token in the body of an authenticated request (a second
  // credential: 400) from none; no route takes form bodies, so the rest is the 415 that any
  // other undeclared media type gets. Requests without credentials never get here: the gate
  // answered them.
  app.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: 64 * 1024 }, (request, body, done) => {
    if (request.auth !== null && new URLSearchParams(body as string).has('access_token')) {
      refuse(request, new AuthError('ERR_MULTIPLE_CREDENTIALS', { where: 'body' }), (error) => done(error ?? null))
      return
    }
    done(Object.assign(new Error('form bodies are not accepted'), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }))
  })
}

export default fp(auth, { name: 'auth', fastify: '5.x', dependencies: ['metrics', 'verifier', 'dpop'] })
