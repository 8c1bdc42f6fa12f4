/**
 * Which errors an operation can answer, from what its route declares, and how the document
 * shows them. Each reason below is one way the server refuses a request of that kind, with the
 * codes it carries and the headers it sends; an operation gets a reason only when its route can
 * produce it:
 *
 * - every operation: `503 ERR_SHUTTING_DOWN` while the server drains (plugins/problem-details.ts
 *   answers every request that arrives then, before routing to the handler);
 * - a protected operation: the gate's `400 invalid_request`, `401`, and `503` when the issuer's
 *   keys or introspection endpoint cannot be reached; `403` only when it requires scopes;
 * - validated inputs (params, query string, headers, body schemas): `400 ERR_VALIDATION`;
 * - path parameters: `400 ERR_BAD_REQUEST` (not percent-decodable), `414` (over the length limit);
 * - a method whose body the server reads (all but GET, HEAD, TRACE): `400 ERR_MALFORMED_BODY`,
 *   `413`, `415`.
 *
 * The route's own error answers (`problemResponse`) join these. One status is one response:
 * its reasons listed in its description, its codes as its examples; a header is required only
 * when every reason sends it.
 */
import { STATUS_CODES } from 'node:http'
import { PROBLEM_CODES, PROBLEM_CONTENT_TYPE } from '../http/problem.js'
import { ProblemSchema } from '../schemas/problem.js'
import { componentize, type Components } from './components.js'
import { headerObject, RetryAfterHeader, WwwAuthenticateHeader } from './headers.js'
import type { JsonObject } from './json.js'
import { exampleRef, type ExampleCode } from './problems.js'

/** What the route declares, as far as errors are concerned. */
export interface OperationFacts {
  /** `config.public`: no token needed. */
  public: boolean
  /** The scopes a protected route requires. */
  scopes: readonly string[]
  /** The inputs Fastify validates against a schema of the route, as a reader names them. */
  validated: readonly string[]
  /** The path has parameters (`/:id`). */
  pathParameters: boolean
  /** The server reads a request body for this method (Fastify: every method but GET, HEAD, TRACE). */
  readsBody: boolean
}

/** One way to get an error status. */
export interface ErrorReason {
  status: string
  /** What happened, as a sentence without its final period. */
  text: string
  /** The `code`s it answers with. */
  codes: readonly string[]
  /** How the description names them when they are too many to list. */
  codesText?: string
  /** The codes shown as examples (all of `codes` unless said). */
  examples: readonly string[]
  /** The headers it sends, as JSON schemas. */
  headers: Readonly<Record<string, JsonObject>>
}

/** Methods for which Fastify never reads a request body. */
export const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'TRACE'])

const CHALLENGE = { 'WWW-Authenticate': WwwAuthenticateHeader }
const RETRY = { 'Retry-After': RetryAfterHeader }

/** A reason whose every code has an example. */
function reason(
  status: number,
  text: string,
  codes: readonly ExampleCode[],
  headers: Readonly<Record<string, JsonObject>> = {}
): ErrorReason {
  return { status: String(status), text, codes, examples: codes, headers }
}

/** "The body does", "The path parameters or the body do". */
function inputsSubject(inputs: readonly string[]): string {
  const plural = inputs.length > 1 || inputs[0]?.endsWith('s') === true
  return `The ${inputs.join(' or the ')} ${plural ? 'do' : 'does'}`
}

/** Every 401 refusal of a token that was sent (all but ERR_NO_CREDENTIALS). */
const INVALID_TOKEN_CODES = PROBLEM_CODES.filter(({ status, code }) => status === '401' && code !== 'ERR_NO_CREDENTIALS').map(({ code }) =>
  String(code)
)

/** The reasons an operation with these facts can answer an error for, in the order the document lists them. */
export function sharedReasons(facts: OperationFacts): ErrorReason[] {
  const reasons: ErrorReason[] = []
  const add = (when: boolean, ...more: ErrorReason[]): void => {
    if (when) reasons.push(...more)
  }
  const gated = !facts.public

  add(gated, {
    status: '400',
    text: 'The credentials are malformed: two of them, a token in the query string or the body, or the Bearer scheme without a token; the `WWW-Authenticate` challenge says `error="invalid_request"`',
    codes: ['ERR_MULTIPLE_CREDENTIALS', 'ERR_TOKEN_IN_QUERY', 'ERR_TOKEN_IN_BODY', 'ERR_EMPTY_CREDENTIALS'],
    examples: ['ERR_TOKEN_IN_QUERY'],
    headers: CHALLENGE
  })
  add(
    facts.validated.length > 0,
    reason(400, `${inputsSubject(facts.validated)} not match the operation's schema (\`detail\` names the member)`, ['ERR_VALIDATION'])
  )
  add(facts.pathParameters, reason(400, 'A path parameter is not valid percent-encoded UTF-8', ['ERR_BAD_REQUEST']))
  add(facts.readsBody, reason(400, 'The body is not valid JSON, or is empty with a JSON `Content-Type`', ['ERR_MALFORMED_BODY']))
  add(gated, reason(401, 'No access token; the `WWW-Authenticate` challenge has no `error`', ['ERR_NO_CREDENTIALS'], CHALLENGE), {
    status: '401',
    text: 'An invalid access token: bad signature or algorithm, wrong issuer or audience, expired, not yet valid, an ID token or another kind of token, an unknown key, an inactive opaque token; the challenge says `error="invalid_token"`',
    codes: INVALID_TOKEN_CODES,
    codesText: 'any other 401 code of the `Problem` schema, such as `ERR_JWT_EXPIRED`',
    examples: ['ERR_JWT_EXPIRED', 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN'],
    headers: CHALLENGE
  })
  add(
    gated && facts.scopes.length > 0,
    reason(
      403,
      'A valid access token without a scope the operation requires; the challenge says `error="insufficient_scope"` and its `scope` names the required scopes',
      ['ERR_INSUFFICIENT_SCOPE'],
      CHALLENGE
    )
  )
  add(facts.readsBody, reason(413, 'The body is larger than the server accepts', ['ERR_BODY_TOO_LARGE']))
  add(facts.pathParameters, reason(414, 'A path parameter is longer than the server accepts', ['ERR_URI_TOO_LONG']))
  add(facts.readsBody, reason(415, "The body's `Content-Type` is not one the server reads", ['ERR_UNSUPPORTED_MEDIA_TYPE']))
  add(
    gated,
    reason(
      503,
      "The issuer's signing keys, or its introspection endpoint, cannot be reached right now",
      ['ERR_KEYS_UNAVAILABLE', 'ERR_INTROSPECTION_UNAVAILABLE'],
      RETRY
    )
  )
  add(
    true,
    reason(
      503,
      'The server is shutting down: it answers every request this way while it drains, and closes the connection so that the retry reaches another instance',
      ['ERR_SHUTTING_DOWN'],
      RETRY
    )
  )
  return reasons
}

const MAX_LISTED_CODES = 4

/** "`A`", "`A` or `B`", "`A`, `B` or `C`". */
function codeList(codes: readonly string[]): string {
  const quoted = codes.map((code) => `\`${code}\``)
  return quoted.length < 2 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1) ?? ''}`
}

/** The reason, then its codes: "The body is larger than the server accepts. `code`: `ERR_BODY_TOO_LARGE`." */
function sentence(reason: ErrorReason): string {
  const codes =
    reason.codesText ?? (reason.codes.length > MAX_LISTED_CODES ? `one of ${reason.codes.length} codes` : codeList(reason.codes))
  return `${reason.text.replace(/\.$/, '')}.${codes === '' ? '' : ` \`code\`: ${codes}.`}`
}

/**
 * The OpenAPI response of one error status from all its reasons: a problem+json body, the
 * reasons in the description, each code's example, and the headers (required when every
 * reason sends them).
 */
export function errorResponse(status: string, reasons: readonly ErrorReason[], components: Components): JsonObject {
  if (reasons.length === 0) throw new Error(`no reason for the error status ${status}`)
  const description =
    reasons.length === 1
      ? sentence(reasons[0] as ErrorReason)
      : [
          `${STATUS_CODES[Number(status)] ?? 'Error'}, for one of these reasons:`,
          '',
          ...reasons.map((reason) => `- ${sentence(reason)}`)
        ].join('\n')

  const headers: Record<string, JsonObject> = {}
  for (const { headers: sent } of reasons) {
    for (const [name, schema] of Object.entries(sent)) {
      if (name in headers) continue
      headers[name] = headerObject(
        schema,
        components,
        reasons.every((other) => other.headers[name] !== undefined)
      )
    }
  }

  const examples: Record<string, { $ref: string }> = {}
  for (const code of reasons.flatMap((reason) => reason.examples)) examples[code] = exampleRef(code, components)

  return {
    description,
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    content: {
      [PROBLEM_CONTENT_TYPE]: { schema: componentize(ProblemSchema, components), ...(Object.keys(examples).length > 0 ? { examples } : {}) }
    }
  }
}
