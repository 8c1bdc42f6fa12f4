/**
 * One route as one OpenAPI operation, from its declaration alone: `config` (`public`, or the
 * `scopes` the gate enforces) gives its `security`; its schemas give the body, the parameters
 * and the answers it declares; what it declares (./error-responses.ts) gives the error answers
 * it can also produce. Schemas and headers with an `$id` become components.
 *
 * A route's answer is declared either as a JSON schema (`200: MessageSchema`: an
 * `application/json` body, `application/problem+json` for the Problem schema, none for
 * `type: 'null'`) or as a response object, which Fastify accepts too:
 * `{ description, headers: { Name: <JSON schema> }, content: { <media type>: { schema } } }`.
 * Headers are documented only where a route declares them.
 */
import { STATUS_CODES } from 'node:http'
import { PROBLEM_CONTENT_TYPE } from '../http/problem.js'
import { componentize, type Components } from './components.js'
import { BODYLESS_METHODS, errorResponse, sharedReasons, type ErrorReason, type OperationFacts } from './error-responses.js'
import { headerObject } from './headers.js'
import { isObject, type JsonObject } from './json.js'
import { codesOf, PROBLEM_SCHEMA_ID } from './problems.js'
import type { AcceptedSchemes } from './document.js'
import { OAUTH2_SCHEME } from './oauth2-schemes.js'

/** A route as Fastify holds it, reduced to plain data. */
export interface RouteDeclaration {
  method: string | readonly string[]
  url: string
  /** `config.public` */
  public: boolean
  /** `config.scopes` */
  scopes: readonly string[]
  schema: JsonObject | undefined
}

/**
 * Where the finished responses travel from here to ../openapi/document.ts (finishDocument):
 * @fastify/swagger copies `x-` keys onto the operation untouched, and the finished document
 * has no such key.
 */
export const RESPONSES_KEY = 'x-finished-responses'

/** The route's inputs Fastify validates, and how the document names them. */
const VALIDATED_INPUTS: ReadonlyArray<readonly [string, string]> = [
  ['params', 'path parameters'],
  ['querystring', 'query string'],
  ['query', 'query string'],
  ['headers', 'headers'],
  ['body', 'body']
]
/** Keywords that make an object a JSON schema rather than a response object. */
const RESPONSE_OBJECT_KEYS: ReadonlySet<string> = new Set(['description', 'headers', 'content'])

function scopeSentence(scopes: readonly string[]): string {
  if (scopes.length === 0) return 'Requires a valid access token (no particular scope).'
  const list = scopes.map((scope) => `\`${scope}\``).join(' and ')
  return `Requires an access token with the scope${scopes.length > 1 ? 's' : ''} ${list}.`
}

export function factsOf(route: RouteDeclaration): OperationFacts {
  const methods = typeof route.method === 'string' ? [route.method] : route.method
  const schema = route.schema ?? {}
  return {
    public: route.public,
    scopes: route.scopes,
    validated: [...new Set(VALIDATED_INPUTS.filter(([key]) => schema[key] !== undefined).map(([, name]) => name))],
    pathParameters: /\/:/.test(route.url),
    readsBody: methods.some((method) => !BODYLESS_METHODS.has(method.toUpperCase()))
  }
}

/** `{ description, headers, content }` rather than a JSON schema of the body. */
function isResponseObject(declared: JsonObject): boolean {
  return Object.keys(declared).every((key) => RESPONSE_OBJECT_KEYS.has(key))
}

function isProblemSchema(schema: unknown): boolean {
  return isObject(schema) && schema.$id === PROBLEM_SCHEMA_ID
}

function statusText(status: string): string {
  return STATUS_CODES[Number(status)] ?? 'Response'
}

/** A success answer as an OpenAPI response object. */
function successResponse(status: string, declared: JsonObject, components: Components): JsonObject {
  if (!isResponseObject(declared)) {
    // an inline schema's description describes the answer; a component's describes the component
    const own = declared.$id === undefined && typeof declared.description === 'string' ? declared.description : undefined
    const description = own ?? statusText(status)
    if (declared.type === 'null') return { description }
    return { description, content: { 'application/json': { schema: componentize(declared, components) } } }
  }
  const response: JsonObject = { description: typeof declared.description === 'string' ? declared.description : statusText(status) }
  if (isObject(declared.headers)) {
    response.headers = Object.fromEntries(
      Object.entries(declared.headers).map(([name, schema]) => [name, headerObject(schema as JsonObject, components)])
    )
  }
  if (isObject(declared.content)) {
    response.content = Object.fromEntries(
      Object.entries(declared.content).map(([media, value]) => {
        const { schema, ...rest } = value as JsonObject
        return [media, { schema: componentize(schema, components), ...rest }]
      })
    )
  }
  return response
}

/** A route's own error answer as one reason for its status. Error bodies are problem+json, always. */
function declaredReason(where: string, status: string, declared: JsonObject): ErrorReason {
  if (isProblemSchema(declared)) return { status, text: statusText(status), codes: [], examples: [], headers: {} }
  const content = isObject(declared.content) ? declared.content : {}
  const medias = Object.keys(content)
  const media = content[PROBLEM_CONTENT_TYPE]
  if (!isResponseObject(declared) || medias.length !== 1 || !isObject(media) || !isProblemSchema(media.schema)) {
    throw new Error(
      `${where}: its ${status} answer must be a problem+json body with the Problem schema (use problemResponse from src/openapi/problems.ts)`
    )
  }
  const codes = codesOf(declared)
  return {
    status,
    text: typeof declared.description === 'string' ? declared.description : statusText(status),
    codes,
    examples: codes,
    headers: isObject(declared.headers) ? (declared.headers as Record<string, JsonObject>) : {}
  }
}

/** The operation's responses: what the route declares, then the errors it can produce besides, by status. */
export function responsesOf(route: RouteDeclaration, components: Components): Record<string, JsonObject> {
  const where = `route ${typeof route.method === 'string' ? route.method : route.method.join(',')} ${route.url}`
  const declared = isObject(route.schema?.response) ? route.schema.response : {}
  const responses: Record<string, JsonObject> = {}
  const reasons = new Map<string, ErrorReason[]>()
  for (const [status, answer] of Object.entries(declared)) {
    if (!isObject(answer)) throw new Error(`${where}: its ${status} answer is not a schema`)
    if (/^[45]/.test(status)) reasons.set(status, [declaredReason(where, status, answer)])
    else responses[status] = successResponse(status, answer, components)
  }
  for (const reason of sharedReasons(factsOf(route))) reasons.set(reason.status, [...(reasons.get(reason.status) ?? []), reason])
  for (const [status, list] of reasons) responses[status] = errorResponse(status, list, components)
  return responses
}

/**
 * The schema @fastify/swagger describes the operation from (its `transform`): the route's own,
 * with `security`, the scopes in the description, components for `$id`s, and the finished
 * responses. A route without a schema, or with `hide`, is not part of the document.
 */
/** The route's header schema (if any) with the DPoP proof header added. */
function withDpopHeader(headers: unknown): JsonObject {
  const given = headers !== null && typeof headers === 'object' ? (headers as JsonObject) : { type: 'object' }
  const properties = given.properties !== null && typeof given.properties === 'object' ? (given.properties as JsonObject) : {}
  return { ...given, type: 'object', properties: { ...properties, DPoP: DPOP_HEADER } }
}

/** The DPoP proof header of a protected operation (RFC 9449 §4.1). */
const DPOP_HEADER: JsonObject = {
  type: 'string',
  description:
    'A DPoP proof (RFC 9449 §4): required with `Authorization: DPoP <token>`, one per request, never reused; ignored with Bearer.'
}

export function describeOperation(
  route: RouteDeclaration,
  components: Components,
  schemes: AcceptedSchemes = { bearer: true, dpop: false },
  /** The oauth2 schemes, one per issuer with one (./oauth2-schemes.ts). */
  oauth2Schemes: readonly string[] = [OAUTH2_SCHEME]
): JsonObject {
  const schema = route.schema
  if (schema === undefined || schema.hide === true) return { ...schema, hide: true }
  const { response: _response, ...rest } = schema
  const operation: JsonObject = { ...rest }
  if (schema.body !== undefined) operation.body = componentize(schema.body, components)
  if (route.public) {
    operation.security = []
  } else {
    operation.security = [
      ...(schemes.bearer ? [{ bearerAuth: [...route.scopes] }] : []),
      ...(schemes.dpop ? [{ dpopAuth: [...route.scopes] }] : []),
      ...oauth2Schemes.map((name) => ({ [name]: [...route.scopes] }))
    ]
    if (schemes.dpop) operation.headers = withDpopHeader(schema.headers)
    operation.description = [schema.description, scopeSentence(route.scopes)].filter((part) => typeof part === 'string').join('\n\n')
  }
  operation[RESPONSES_KEY] = responsesOf(route, components)
  return operation
}
