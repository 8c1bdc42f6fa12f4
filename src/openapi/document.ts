/**
 * The OpenAPI 3.1 document as a whole: what @fastify/swagger starts from (`documentBase`),
 * and what its output becomes (`finishDocument`): the responses of each operation put in
 * place, the oauth2 scopes in use with their descriptions, and one stable order for paths,
 * operations, responses and components, whatever order the routes load in.
 *
 * The oauth2 flow's URLs are the issuer's `authorization_endpoint` and `token_endpoint` once
 * its metadata is known (`withFlowUrls`); until then, and in the committed `openapi.yaml`,
 * they are placeholders derived from the configured issuer.
 *
 * With several trusted issuers (AUTH_ISSUERS_FILE), each exact issuer has its own oauth2 scheme
 * (`oauth2` for the first, then `oauth2_2`, `oauth2_3`… in configuration order: see
 * `oauth2SchemeNames`), each with that issuer's own endpoints once its metadata is known, and
 * each protected operation lists every one of them with the route's scopes. An issuer template
 * (`{tenantid}`) has none: it is not one authorization server but one per tenant, with no
 * metadata of its own to discover (its keys come from a common JWKS), so there are no
 * endpoints to give that would be right for every caller; bearerAuth describes its tokens.
 */
import type { Components } from './components.js'
import { clone, isObject, ordered, sortedByKey, type JsonObject } from './json.js'
import { OAUTH2_SCHEME, oauth2SchemeNames } from './oauth2-schemes.js'
import { RESPONSES_KEY } from './operation.js'

export { OAUTH2_SCHEME, oauth2SchemeNames } from './oauth2-schemes.js'

/** The contract's version: bump it when the document changes in a way clients notice. */
export const API_VERSION = '1.0.0'

type SecurityRequirement = Record<string, readonly string[]>

export interface Operation extends JsonObject {
  operationId?: string
  description?: string
  security?: SecurityRequirement[]
  requestBody?: JsonObject
  responses: Record<string, JsonObject>
}

/** The served document: OpenAPI 3.1 as plain JSON. */
export interface OpenApiDocument extends JsonObject {
  openapi: string
  info: JsonObject
  paths: Record<string, Record<string, Operation>>
  components: JsonObject & Components & { securitySchemes: Record<string, JsonObject> }
}

export interface OAuthFlowUrls {
  authorizationUrl: string
  tokenUrl: string
}

const DESCRIPTION = `An OAuth 2.0 resource server. Every \`/api\` operation needs an access token from the
configured issuer, sent as \`Authorization: Bearer <token>\` (RFC 6750), or as \`Authorization: DPoP <token>\`
with a \`DPoP\` proof header when the token is DPoP-bound (RFC 9449); the token's audience must be
this API. Each operation lists the scopes it requires under each security scheme.

Errors are \`application/problem+json\` (RFC 9457) with \`type\`, \`title\`, \`status\`, \`detail\` and a
stable \`code\` (\`ERR_…\`, listed in the \`Problem\` schema). Each operation lists the error answers it can
give, with their codes. A 400, 401 or 403 caused by the credentials carries a \`WWW-Authenticate\`
header with a \`Bearer\` and a \`DPoP\` challenge (the scheme the request used first, with the error);
their \`resource_metadata\` points at \`/.well-known/oauth-protected-resource\` (RFC 9728). A 503
carries \`Retry-After\`. While the server shuts down, every operation answers \`503\` with the code
\`ERR_SHUTTING_DOWN\`: retry, and another instance answers.`

const DOCUMENT_KEYS = ['openapi', 'info', 'servers', 'tags', 'paths', 'components']
const OPERATION_KEYS = ['operationId', 'summary', 'description', 'tags', 'parameters', 'requestBody', 'security', 'responses']
const COMPONENT_KEYS = ['securitySchemes', 'schemas', 'responses', 'headers', 'examples']

/** Placeholder endpoints derived from the issuer, for when its metadata is unknown (offline). */
export function placeholderFlowUrls(issuer: string): OAuthFlowUrls {
  const base = issuer.replace(/\/+$/, '')
  return { authorizationUrl: `${base}/authorize`, tokenUrl: `${base}/token` }
}

/** Which schemes the API accepts (AUTH_DPOP): Bearer unless DPoP is required, DPoP unless it is disabled. */
export interface AcceptedSchemes {
  bearer: boolean
  dpop: boolean
}

const DPOP_SCHEME: JsonObject = {
  type: 'http',
  scheme: 'DPoP',
  description:
    'A DPoP-bound access token (RFC 9449): `Authorization: DPoP <token>`, with a fresh proof in the `DPoP` header of every request, signed by the key the token is bound to (`cnf.jkt`), naming the method (`htm`) and the URI (`htu`) and hashing the token (`ath`). A proof is accepted once. With server nonces on, a 401 `use_dpop_nonce` carries the nonce in `DPoP-Nonce`.'
}

const BEARER_SCHEME: JsonObject = {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
  description:
    'An access token from the configured issuer whose audience is this API (RFC 9068 JWT; opaque tokens when introspection is configured).'
}

const ONE_ISSUER_FLOW =
  "Authorization code flow with PKCE (S256) at the configured issuer. The served document (`GET /openapi.json`) carries the issuer's own `authorization_endpoint` and `token_endpoint`; a document generated offline shows URLs derived from an example issuer."

function oauth2Scheme(description: string, urls: OAuthFlowUrls): JsonObject {
  return { type: 'oauth2', description, 'x-usePkce': 'SHA-256', flows: { authorizationCode: { ...urls, scopes: {} } } }
}

/** One oauth2 scheme per issuer, named by `oauth2SchemeNames`; with one issuer, the description of the single-issuer API. */
function oauth2Schemes(issuers: readonly string[]): Record<string, JsonObject> {
  const names = oauth2SchemeNames(issuers.length)
  return Object.fromEntries(
    issuers.map((issuer, index) => [
      names[index] ?? OAUTH2_SCHEME,
      oauth2Scheme(
        issuers.length === 1
          ? ONE_ISSUER_FLOW
          : `Authorization code flow with PKCE (S256) at the trusted issuer \`${issuer}\` (${index + 1} of ${issuers.length}). The served document (\`GET /openapi.json\`) carries this issuer's own \`authorization_endpoint\` and \`token_endpoint\` once its metadata is known; until then, URLs derived from the issuer.`,
        placeholderFlowUrls(issuer)
      )
    ])
  )
}

function securitySchemes(issuers: readonly string[], schemes: AcceptedSchemes): Record<string, JsonObject> {
  return {
    ...(schemes.dpop ? { dpopAuth: DPOP_SCHEME } : {}),
    bearerAuth:
      issuers.length === 1
        ? BEARER_SCHEME
        : {
            ...BEARER_SCHEME,
            description:
              'An access token from one of the trusted issuers (AUTH_ISSUERS_FILE) whose audience is this API (RFC 9068 JWT; opaque tokens from the one issuer configured to introspect them).'
          },
    ...oauth2Schemes(issuers)
  }
}

/**
 * The document before the routes: what @fastify/swagger's `openapi` option gets. `issuers` are
 * the issuers with an oauth2 scheme (one, or the exact issuers of AUTH_ISSUERS_FILE in order;
 * none leaves bearerAuth alone).
 */
export function documentBase(issuers: string | readonly string[], schemes: AcceptedSchemes): JsonObject {
  return {
    openapi: '3.1.0',
    info: { title: 'Resource API', version: API_VERSION, description: DESCRIPTION },
    servers: [{ url: '/', description: 'The server that serves this document' }],
    components: { securitySchemes: securitySchemes(typeof issuers === 'string' ? [issuers] : issuers, schemes) }
  }
}

/** The component maps of a document under construction (created where missing), for the routes to fill. */
export function componentsOf(document: JsonObject): Components {
  if (!isObject(document.components)) document.components = {}
  const components = document.components as Partial<Components>
  components.schemas ??= {}
  components.headers ??= {}
  components.examples ??= {}
  return components as Components
}

/** The authorization code flow of a security scheme, if it is an oauth2 scheme. */
function authorizationCodeFlow(scheme: unknown): JsonObject | undefined {
  if (!isObject(scheme) || !isObject(scheme.flows)) return undefined
  const flow = scheme.flows.authorizationCode
  return isObject(flow) ? flow : undefined
}

/** The document's oauth2 schemes (an authorization code flow each), by name. */
function oauth2Flows(document: OpenApiDocument): Map<string, JsonObject> {
  const flows = new Map<string, JsonObject>()
  for (const [name, scheme] of Object.entries(document.components.securitySchemes)) {
    const flow = authorizationCodeFlow(scheme)
    if (flow !== undefined) flows.set(name, flow)
  }
  return flows
}

/**
 * The tags the operations use, by name, each with its description as a route plugin declared it
 * (`app.describeTag`, plugins/swagger.ts). A tag no plugin describes stops the document: say
 * what it means next to the routes that use it.
 */
function tagsOf(used: ReadonlyMap<string, readonly string[]>, describeTag: (tag: string) => string | undefined): JsonObject[] {
  return [...used.keys()].sort().map((name) => {
    const description = describeTag(name)
    if (description === undefined) {
      throw new Error(
        `the tag "${name}" (used by ${(used.get(name) ?? []).join(', ')}) is not described: call app.describeTag('${name}', '…') in the plugin that declares its routes`
      )
    }
    return { name, description }
  })
}

/**
 * The whole document: each operation's responses from its route (./operation.ts), the oauth2
 * scopes in use (described where their routes declare them: `describe`), the tags in use (also
 * described beside their routes: `describeTag`), stable orders.
 */
export function finishDocument(
  document: OpenApiDocument,
  describe: (scope: string) => string | undefined,
  describeTag: (tag: string) => string | undefined = () => undefined
): OpenApiDocument {
  const flows = oauth2Flows(document)
  const scopes = new Map<string, string[]>()
  const tags = new Map<string, string[]>()
  for (const [path, pathItem] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(pathItem)) {
      const { [RESPONSES_KEY]: responses, ...rest } = operation
      if (!isObject(responses))
        throw new Error(
          `${method.toUpperCase()} ${path}: its responses were not described (the swagger transform must be describeOperation)`
        )
      const name = operation.operationId ?? `${method.toUpperCase()} ${path}`
      const required = new Set(
        (operation.security ?? []).flatMap((requirement) =>
          Object.entries(requirement).flatMap(([scheme, list]) => (flows.has(scheme) ? list : []))
        )
      )
      for (const scope of required) scopes.set(scope, [...(scopes.get(scope) ?? []), name])
      for (const tag of Array.isArray(operation.tags) ? (operation.tags as unknown[]) : [])
        tags.set(String(tag), [...(tags.get(String(tag)) ?? []), name])
      pathItem[method] = ordered({ ...rest, responses: sortedByKey(responses as Record<string, JsonObject>) }, OPERATION_KEYS)
    }
  }

  const described = Object.fromEntries(
    [...scopes.keys()].sort().map((scope) => [scope, describe(scope) ?? `Required by ${(scopes.get(scope) ?? []).join(', ')}`])
  )
  for (const flow of flows.values()) flow.scopes = { ...described }
  if (tags.size > 0) document.tags = tagsOf(tags, describeTag)
  else delete document.tags
  document.paths = sortedByKey(document.paths)
  const components: JsonObject = { ...document.components }
  for (const kind of ['schemas', 'headers', 'examples'] as const) {
    const entries = document.components[kind]
    if (Object.keys(entries).length === 0) delete components[kind]
    else components[kind] = sortedByKey(entries)
  }
  document.components = ordered(components, COMPONENT_KEYS) as OpenApiDocument['components']
  return ordered(document, DOCUMENT_KEYS)
}

/**
 * The served copy of the document, with the issuers' own authorization and token endpoints:
 * `urls` for the `oauth2` scheme, or by scheme name (`oauth2SchemeNames`). A scheme the
 * document does not have is ignored.
 */
export function withFlowUrls(document: OpenApiDocument, urls: OAuthFlowUrls | Readonly<Record<string, OAuthFlowUrls>>): OpenApiDocument {
  const byScheme: Readonly<Record<string, OAuthFlowUrls>> = isFlowUrls(urls) ? { [OAUTH2_SCHEME]: urls } : urls
  const served = clone(document)
  const flows = oauth2Flows(served)
  for (const [scheme, schemeUrls] of Object.entries(byScheme)) {
    const flow = flows.get(scheme)
    if (flow !== undefined) Object.assign(flow, { authorizationUrl: schemeUrls.authorizationUrl, tokenUrl: schemeUrls.tokenUrl })
  }
  return served
}

function isFlowUrls(value: object): value is OAuthFlowUrls {
  return (
    typeof (value as Partial<OAuthFlowUrls>).authorizationUrl === 'string' && typeof (value as Partial<OAuthFlowUrls>).tokenUrl === 'string'
  )
}

/** The flow URLs in the issuer's metadata (RFC 8414), when it has both. */
export function flowUrlsOf(metadata: object | undefined): OAuthFlowUrls | undefined {
  const { authorization_endpoint: authorizationUrl, token_endpoint: tokenUrl } = (metadata ?? {}) as Record<string, unknown>
  return typeof authorizationUrl === 'string' && typeof tokenUrl === 'string' ? { authorizationUrl, tokenUrl } : undefined
}
