/**
 * The OpenAPI 3.1 document (@fastify/swagger), built from the routes themselves: their
 * TypeBox schemas give the bodies, parameters and responses; their `config` (`public` or
 * `scopes`, the declaration the auth gate enforces) gives each operation's `security` and its
 * 400/401/403/503 answers. Schemas with an `$id` become `#/components/schemas/<$id>`.
 * The oauth2 flow's URLs are the issuer's `authorization_endpoint` and `token_endpoint` once
 * its metadata is known (`GET /openapi.json`, `/docs`); before that, and in the committed
 * `openapi.yaml`, they are placeholders derived from the configured issuer.
 */
import { isDeepStrictEqual } from 'node:util'
import swagger from '@fastify/swagger'
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { bearerChallenge } from '../src/http/www-authenticate.js'
import { problem, PROBLEM_CONTENT_TYPE } from '../src/http/problem.js'
import type { IssuerMetadata } from '../src/keys/issuer-metadata.js'
import { AuthError } from '../src/token/errors.js'
import { ProblemSchema } from '../src/schemas/problem.js'
import { authProblem } from './problem-details.js'

/** The contract's version: bump it when the document changes in a way clients notice. */
export const API_VERSION = '1.0.0'

/** Routes that exist but are not part of the API contract. */
const HIDDEN_URLS: ReadonlySet<string> = new Set(['/metrics'])

const TAGS = [
  { name: 'messages', description: 'The caller\'s messages. The token\'s `sub` owns them: another user\'s message is answered as if it did not exist.' },
  { name: 'me', description: 'What the access token says about its caller.' },
  { name: 'health', description: 'Liveness and readiness probes.' },
  { name: 'metadata', description: 'OAuth 2.0 Protected Resource Metadata (RFC 9728): where to get a token, and which scopes exist.' }
]

const DESCRIPTION = `An OAuth 2.0 resource server. Every \`/api\` operation needs an access token from the
configured issuer, sent as \`Authorization: Bearer <token>\` (RFC 6750); the token's audience must be
this API. Each operation lists the scopes it requires under both security schemes.

Errors are \`application/problem+json\` (RFC 9457) with \`type\`, \`title\`, \`status\`, \`detail\` and a
stable \`code\` (\`ERR_…\`, listed in the \`Problem\` schema). A 400, 401 or 403 caused by the credentials carries a
\`WWW-Authenticate: Bearer …\` challenge whose \`resource_metadata\` points at
\`/.well-known/oauth-protected-resource\` (RFC 9728); a 503 carries \`Retry-After\`.`

const COMPONENT_NAME = /^[A-Za-z0-9._-]+$/
const SCHEMA_REF = '#/components/schemas/'
/** Keywords whose value is data, not a schema. */
const DATA_KEYWORDS: ReadonlySet<string> = new Set(['examples', 'example', 'enum', 'const', 'default', 'required'])
/** Keywords whose value maps names to schemas. */
const SCHEMA_MAP_KEYWORDS: ReadonlySet<string> = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'])

const STATUS_DESCRIPTIONS: Readonly<Record<string, string>> = {
  200: 'OK',
  201: 'Created',
  204: 'No content',
  409: 'Conflict with the current state of the resource'
}

type JsonObject = Record<string, unknown>
type SecurityRequirement = Record<string, readonly string[]>

interface Operation extends JsonObject {
  operationId?: string
  security?: SecurityRequirement[]
  responses: Record<string, JsonObject>
}

interface OAuthFlowUrls {
  authorizationUrl: string
  tokenUrl: string
}

/** The served document: OpenAPI 3.1 as plain JSON. */
export interface OpenApiDocument extends JsonObject {
  openapi: string
  info: JsonObject
  paths: Record<string, Record<string, Operation>>
  components: JsonObject & {
    schemas: Record<string, JsonObject>
    securitySchemes: Record<string, JsonObject>
  }
}

declare module 'fastify' {
  interface FastifySchema {
    /**
     * Answers a handler sends without a serializer (a 204, or a route whose replies are not
     * typed from `response`): documented like `response`, never used to serialize.
     */
    'x-responses'?: Readonly<Record<string, unknown>>
  }
  interface FastifyInstance {
    /** The OpenAPI document as served: the oauth2 URLs are the issuer's once its metadata is known. */
    openapiDocument(): Promise<OpenApiDocument>
  }
}

export interface SwaggerPluginOptions {
  /** The configured issuer (AUTH_ISSUER). */
  issuer: string
  /** The issuer's discovery metadata (from the key store; undefined while it cannot be discovered). */
  issuerMetadata?: () => Promise<IssuerMetadata | undefined>
  /** How long a request for the document waits for the issuer's metadata (ms). */
  metadataTimeoutMs?: number
}

function isObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function clone<T> (value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

/** Placeholder endpoints derived from the issuer, for when its metadata is unknown (offline). */
export function placeholderFlowUrls (issuer: string): OAuthFlowUrls {
  const base = issuer.replace(/\/+$/, '')
  return { authorizationUrl: `${base}/authorize`, tokenUrl: `${base}/token` }
}

/**
 * A deep copy of `schema` in which every subschema with an `$id` is replaced by a reference to
 * `#/components/schemas/<$id>`, the subschema itself (without `$id`) being put there.
 */
function componentize (schema: unknown, components: Record<string, JsonObject>): unknown {
  if (Array.isArray(schema)) return schema.map((item) => componentize(item, components))
  if (!isObject(schema)) return schema
  const copy: JsonObject = {}
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$id') continue
    if (DATA_KEYWORDS.has(key)) copy[key] = clone(value)
    else if (SCHEMA_MAP_KEYWORDS.has(key) && isObject(value)) {
      copy[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, componentize(sub, components)]))
    } else copy[key] = componentize(value, components)
  }
  const id = schema.$id
  if (typeof id !== 'string') return copy
  if (!COMPONENT_NAME.test(id)) throw new Error(`schema $id "${id}" cannot name an OpenAPI component (letters, digits, . _ - only)`)
  const existing = components[id]
  if (existing !== undefined && !isDeepStrictEqual(existing, copy)) throw new Error(`two different schemas have the $id "${id}"`)
  components[id] = copy
  return { $ref: `${SCHEMA_REF}${id}` }
}

const PROBLEM_ID = (ProblemSchema as unknown as JsonObject).$id

function isProblem (schema: unknown): boolean {
  return isObject(schema) && schema.$id === PROBLEM_ID
}

/** A route's response schema as an OpenAPI response, its schema referenced from the components. */
function responseFor (status: string, schema: unknown, components: Record<string, JsonObject>): JsonObject {
  // a component's description describes the component; an inline schema's describes the answer
  const own = isObject(schema) && schema.$id === undefined && typeof schema.description === 'string' ? schema.description : undefined
  const description = own ?? STATUS_DESCRIPTIONS[status] ?? 'Response'
  if (isObject(schema) && schema.type === 'null') return { description, type: 'null' }
  const mediaType = isProblem(schema) ? PROBLEM_CONTENT_TYPE : 'application/json'
  return { description, content: { [mediaType]: { schema: componentize(schema, components) } } }
}

function scopeSentence (scopes: readonly string[]): string {
  if (scopes.length === 0) return 'Requires a valid access token (no particular scope).'
  const list = scopes.map((scope) => `\`${scope}\``).join(' and ')
  return `Requires an access token with the scope${scopes.length > 1 ? 's' : ''} ${list}.`
}

/** Per route: `security` from `config`, schemas with `$id` as components, problem+json media types. */
function transformRoute ({ schema, url, route, openapiObject }: {
  schema: FastifySchema | undefined
  url: string
  route: RouteOptions
  openapiObject: JsonObject
}): { schema: FastifySchema; url: string } {
  if (schema === undefined || schema.hide === true || HIDDEN_URLS.has(url)) return { schema: { ...schema, hide: true }, url }
  const components = (openapiObject.components as { schemas: Record<string, JsonObject> }).schemas
  const { 'x-responses': documentedOnly, ...rest } = schema
  const doc: FastifySchema = { ...rest }
  if (schema.body !== undefined) doc.body = componentize(schema.body, components)
  const responses = { ...(isObject(schema.response) ? schema.response : {}), ...documentedOnly }
  if (Object.keys(responses).length > 0) {
    doc.response = Object.fromEntries(Object.entries(responses).map(([status, response]) => [status, responseFor(status, response, components)]))
  }
  if (route.config?.public === true) {
    doc.security = []
  } else {
    const scopes = [...(route.config?.scopes ?? [])]
    doc.security = [{ bearerAuth: scopes }, { oauth2: scopes }]
    doc.description = [schema.description, scopeSentence(scopes)].filter((part) => part !== undefined).join('\n\n')
  }
  return { schema: doc, url }
}

function problemExample (code: ConstructorParameters<typeof AuthError>[0], detail: string, scope?: string): { problem: JsonObject; challenge: string } {
  const error = new AuthError(code, detail, scope === undefined ? {} : { scope })
  return {
    problem: { ...authProblem(error) },
    challenge: bearerChallenge('https://api.example.com', 'https://api.example.com/.well-known/oauth-protected-resource', error)
  }
}

const NO_TOKEN = problemExample('ERR_NO_CREDENTIALS', 'This route requires a Bearer access token in the Authorization header.')
const EXPIRED = problemExample('ERR_JWT_EXPIRED', 'The access token has expired.')
const ID_TOKEN = problemExample('ERR_ID_TOKEN_NOT_ACCESS_TOKEN', 'An ID token was presented where an access token is required.')
const TWO_CREDENTIALS = problemExample('ERR_MULTIPLE_CREDENTIALS', 'The request carries an access token both in the Authorization header and in the query string; send it in the Authorization header only.')
const NO_SCOPE = problemExample('ERR_INSUFFICIENT_SCOPE', 'This request requires the scope read:messages.', 'read:messages')
const NO_KEYS = problemExample('ERR_KEYS_UNAVAILABLE', 'The issuer\'s signing keys cannot be obtained right now; try again later.')

function problemContent (examples: Record<string, { summary: string; value: JsonObject }>): JsonObject {
  return { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: `${SCHEMA_REF}Problem` }, examples } }
}

const CHALLENGE_HEADER = { $ref: '#/components/headers/WWW-Authenticate' }

/** Answers shared by the operations, referenced as `#/components/responses/<name>`. */
const SHARED_RESPONSES: Record<string, { status: string; response: JsonObject }> = {
  BadRequest: {
    status: '400',
    response: {
      description: 'Malformed request: the credentials are malformed (two of them, a token in the query string or the body, a scheme without a token: `invalid_request`, with a challenge), or the parameters or body fail validation (no challenge).',
      headers: { 'WWW-Authenticate': { description: 'Present when the credentials are malformed: `Bearer error="invalid_request", …`.', schema: { type: 'string' }, example: TWO_CREDENTIALS.challenge } },
      content: problemContent({
        twoCredentials: { summary: 'A token in both the header and the query string', value: TWO_CREDENTIALS.problem },
        validation: { summary: 'A body that fails validation', value: { ...problem('ERR_VALIDATION', 'body/text must NOT have fewer than 1 characters') } }
      })
    }
  },
  Unauthorized: {
    status: '401',
    response: {
      description: 'No access token (a challenge without `error`), or an invalid one (`error="invalid_token"`): bad signature or algorithm, wrong issuer or audience, expired, not yet valid, an ID token or other non-access token, unknown key.',
      headers: { 'WWW-Authenticate': CHALLENGE_HEADER },
      content: problemContent({
        noToken: { summary: 'No access token', value: NO_TOKEN.problem },
        expired: { summary: 'An expired access token', value: EXPIRED.problem },
        idToken: { summary: 'An ID token sent as an access token', value: ID_TOKEN.problem }
      })
    }
  },
  Forbidden: {
    status: '403',
    response: {
      description: 'A valid access token without the scopes the operation requires (`error="insufficient_scope"`, with `scope` naming them).',
      headers: { 'WWW-Authenticate': CHALLENGE_HEADER },
      content: problemContent({ insufficientScope: { summary: 'A token without the required scope', value: NO_SCOPE.problem } })
    }
  },
  NotFound: {
    status: '404',
    response: {
      description: 'No such resource for the caller (another user\'s resource answers the same, so that its existence does not leak).',
      content: problemContent({ notFound: { summary: 'No such message', value: { ...problem('ERR_MESSAGE_NOT_FOUND') } } })
    }
  },
  ServiceUnavailable: {
    status: '503',
    response: {
      description: 'The issuer\'s signing keys (or its introspection endpoint) cannot be reached right now, or the server is shutting down. Retry after the given delay.',
      headers: { 'Retry-After': { $ref: '#/components/headers/Retry-After' } },
      content: problemContent({ keysUnavailable: { summary: 'The issuer cannot be reached', value: NO_KEYS.problem } })
    }
  }
}

const SHARED_BY_STATUS = new Map(Object.entries(SHARED_RESPONSES).map(([name, { status }]) => [status, `#/components/responses/${name}`]))
/** What every protected operation can answer, whatever its own responses. */
const PROTECTED_STATUSES = ['400', '401', '403', '503']

const HEADERS = {
  'WWW-Authenticate': {
    description: 'The Bearer challenge (RFC 6750 §3): `realm`, then `error`, `error_description` and (403) `scope` when the token was refused, and `resource_metadata` (RFC 9728).',
    required: true,
    schema: { type: 'string' },
    example: EXPIRED.challenge
  },
  'Retry-After': {
    description: 'Seconds to wait before retrying.',
    required: true,
    schema: { type: 'integer', minimum: 0 },
    example: 5
  },
  Location: {
    description: 'The URL of the created resource.',
    required: true,
    schema: { type: 'string', format: 'uri-reference' },
    example: '/api/messages/0b6c5c49-6f6e-4d55-9a8e-0b1b0b6a3f0e'
  }
}

function isProblemResponse (response: JsonObject): boolean {
  const content = response.content
  if (!isObject(content)) return false
  const media = content[PROBLEM_CONTENT_TYPE]
  return isObject(media) && isObject(media.schema) && media.schema.$ref === `${SCHEMA_REF}Problem`
}

const DOCUMENT_KEYS = ['openapi', 'info', 'servers', 'tags', 'paths', 'components']
const OPERATION_KEYS = ['operationId', 'summary', 'description', 'tags', 'parameters', 'requestBody', 'security', 'responses']

/** The same object with `first` keys in that order, then the others as they were. */
function ordered<T extends JsonObject> (object: T, first: readonly string[]): T {
  const result: JsonObject = {}
  for (const key of first) if (key in object) result[key] = object[key]
  for (const [key, value] of Object.entries(object)) if (!(key in result)) result[key] = value
  return result as T
}

function sortedByKey<T> (record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/**
 * The whole document: shared answers, the oauth2 scopes in use (described where their routes
 * declare them, `app.describeScopes`), stable orders.
 */
function finishDocument (document: OpenApiDocument, describe: (scope: string) => string | undefined): OpenApiDocument {
  const scopes = new Map<string, string[]>()
  for (const pathItem of Object.values(document.paths)) {
    for (const [method, operation] of Object.entries(pathItem)) {
      const responses: Record<string, JsonObject> = { ...operation.responses }
      for (const [status, response] of Object.entries(responses)) {
        const shared = SHARED_BY_STATUS.get(status)
        if (shared !== undefined && isProblemResponse(response)) responses[status] = { $ref: shared }
        if (status === '201') responses[status] = { ...responses[status], headers: { Location: { $ref: '#/components/headers/Location' } } }
      }
      const required = operation.security?.find((requirement) => requirement.oauth2 !== undefined)?.oauth2
      if (required !== undefined) {
        for (const status of PROTECTED_STATUSES) responses[status] ??= { $ref: SHARED_BY_STATUS.get(status) }
        for (const scope of required) scopes.set(scope, [...(scopes.get(scope) ?? []), operation.operationId ?? '?'])
      }
      operation.responses = sortedByKey(responses)
      pathItem[method] = ordered(operation, OPERATION_KEYS)
    }
  }

  const oauth2 = document.components.securitySchemes.oauth2 as { flows: { authorizationCode: JsonObject } }
  oauth2.flows.authorizationCode.scopes = Object.fromEntries([...scopes.keys()].sort().map((scope) => [
    scope,
    describe(scope) ?? `Required by ${(scopes.get(scope) ?? []).join(', ')}`
  ]))
  // paths in a stable order, whatever order the route files load in
  document.paths = sortedByKey(document.paths)
  document.components = {
    ...document.components,
    schemas: sortedByKey(document.components.schemas),
    responses: Object.fromEntries(Object.entries(SHARED_RESPONSES).map(([name, { response }]) => [name, response])),
    headers: HEADERS
  }
  return ordered(document, DOCUMENT_KEYS)
}

function securitySchemes (urls: OAuthFlowUrls): Record<string, JsonObject> {
  return {
    bearerAuth: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: 'An access token from the configured issuer whose audience is this API (RFC 9068 JWT; opaque tokens when introspection is configured).'
    },
    oauth2: {
      type: 'oauth2',
      description: 'Authorization code flow with PKCE (S256) at the configured issuer. The served document (`GET /openapi.json`) carries the issuer\'s own `authorization_endpoint` and `token_endpoint`; a document generated offline shows URLs derived from an example issuer.',
      'x-usePkce': 'SHA-256',
      flows: { authorizationCode: { ...urls, scopes: {} } }
    }
  }
}

function timeout (ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref())
}

async function swaggerPlugin (app: FastifyInstance, options: SwaggerPluginOptions): Promise<void> {
  const placeholders = placeholderFlowUrls(options.issuer)
  let issuerUrls: OAuthFlowUrls | undefined

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Resource API', version: API_VERSION, description: DESCRIPTION },
      servers: [{ url: '/', description: 'The server that serves this document' }],
      tags: TAGS,
      components: { securitySchemes: securitySchemes(placeholders) as Record<string, never> }
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url, route, ...rest }) => transformRoute({ schema, url, route, openapiObject: ('openapiObject' in rest ? rest.openapiObject : {}) as JsonObject }),
    transformObject: (documentObject) => {
      const document = 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject
      const described = new Map(app.hasDecorator('scopes') ? app.scopes().map((scope) => [scope.name, scope.description]) : [])
      return finishDocument(document as unknown as OpenApiDocument, (scope) => described.get(scope)) as unknown as typeof document
    }
  })

  async function flowUrls (): Promise<OAuthFlowUrls | undefined> {
    if (issuerUrls !== undefined || options.issuerMetadata === undefined) return issuerUrls
    const metadata = await Promise.race([options.issuerMetadata().catch(() => undefined), timeout(options.metadataTimeoutMs ?? 2000)])
    if (typeof metadata?.authorization_endpoint === 'string' && typeof metadata.token_endpoint === 'string') {
      issuerUrls = { authorizationUrl: metadata.authorization_endpoint, tokenUrl: metadata.token_endpoint }
    }
    return issuerUrls
  }

  app.decorate('openapiDocument', async function openapiDocument (): Promise<OpenApiDocument> {
    const document = app.swagger() as unknown as OpenApiDocument
    const urls = await flowUrls()
    if (urls === undefined) return document
    const served = clone(document)
    const flow = (served.components.securitySchemes.oauth2 as { flows: { authorizationCode: JsonObject } }).flows.authorizationCode
    Object.assign(flow, urls)
    return served
  })

  app.get('/openapi.json', {
    config: { public: true },
    schema: { hide: true }
  }, async (_request, reply) => {
    reply.header('cache-control', 'no-cache')
    return app.openapiDocument()
  })
}

export default fp(swaggerPlugin, { name: 'swagger', fastify: '5.x' })
