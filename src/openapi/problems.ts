/**
 * Error bodies as the document shows them: every error answer is `application/problem+json`
 * with the `Problem` schema (src/schemas/problem.ts), and lists the `code`s it can carry, each
 * with an example body (`#/components/examples/<code>`) made by the same function that makes
 * the real ones.
 *
 * A route declares the error answers of its own (a 404 for an unknown id, a 409 for a limit)
 * with `problemResponse`; the answers every operation of its kind can give (credentials,
 * validation, limits, the drain) are added by ./error-responses.ts.
 */
import { problem, PROBLEM_CONTENT_TYPE, type Problem } from '../http/problem.js'
import { ProblemSchema } from '../schemas/problem.js'
import { refTo, register, type Components } from './components.js'
import { clone, type JsonObject } from './json.js'

/** The `$id` of the Problem schema: its component's name. */
export const PROBLEM_SCHEMA_ID: string = (ProblemSchema as unknown as { $id: string }).$id

interface ProblemExample {
  summary: string
  value: Problem
}

function example (summary: string, value: Problem): ProblemExample {
  return { summary, value: { ...value } }
}

/** The example body of each code the document names. */
export const PROBLEM_EXAMPLES = {
  ERR_TOKEN_IN_QUERY: example('A token in the query string', problem('ERR_TOKEN_IN_QUERY')),
  ERR_VALIDATION: example('A request that does not match the schema (`detail` names the member)', problem('ERR_VALIDATION')),
  ERR_BAD_REQUEST: example('A path that does not decode', problem('ERR_BAD_REQUEST')),
  ERR_MALFORMED_BODY: example('A body that is not JSON', problem('ERR_MALFORMED_BODY')),
  ERR_NO_CREDENTIALS: example('No access token', problem('ERR_NO_CREDENTIALS')),
  ERR_JWT_EXPIRED: example('An expired access token', problem('ERR_JWT_EXPIRED')),
  ERR_ID_TOKEN_NOT_ACCESS_TOKEN: example('An ID token sent as an access token', problem('ERR_ID_TOKEN_NOT_ACCESS_TOKEN')),
  ERR_INSUFFICIENT_SCOPE: example('A token without the required scope', problem('ERR_INSUFFICIENT_SCOPE', { scope: 'read:messages' })),
  ERR_MESSAGE_NOT_FOUND: example('No such message', problem('ERR_MESSAGE_NOT_FOUND')),
  ERR_MESSAGE_LIMIT: example('Too many messages', problem('ERR_MESSAGE_LIMIT')),
  ERR_BODY_TOO_LARGE: example('A body over the limit', problem('ERR_BODY_TOO_LARGE')),
  ERR_URI_TOO_LONG: example('A path parameter over the limit', problem('ERR_URI_TOO_LONG')),
  ERR_UNSUPPORTED_MEDIA_TYPE: example('A body of a type the server does not read', problem('ERR_UNSUPPORTED_MEDIA_TYPE')),
  ERR_KEYS_UNAVAILABLE: example('The issuer cannot be reached', problem('ERR_KEYS_UNAVAILABLE')),
  ERR_INTROSPECTION_UNAVAILABLE: example('The introspection endpoint cannot be reached', problem('ERR_INTROSPECTION_UNAVAILABLE')),
  ERR_SHUTTING_DOWN: example('The server is draining', problem('ERR_SHUTTING_DOWN')),
  ERR_NOT_READY: example('The issuer\'s keys are not loaded yet', problem('ERR_NOT_READY'))
} as const satisfies Record<string, ProblemExample>

export type ExampleCode = keyof typeof PROBLEM_EXAMPLES

export function isExampleCode (code: string): code is ExampleCode {
  return Object.hasOwn(PROBLEM_EXAMPLES, code)
}

/** A reference to the example of `code`, registering the example. */
export function exampleRef (code: string, components: Components): { $ref: string } {
  if (!isExampleCode(code)) throw new Error(`no example body for the code ${code}: add one to PROBLEM_EXAMPLES (src/openapi/problems.ts)`)
  return register(components, 'examples', code, clone<JsonObject>({ ...PROBLEM_EXAMPLES[code] }))
}

/** A route's own error answer, as its response schema declares it (Fastify serializes with the Problem schema). */
export interface ProblemResponse {
  description: string
  headers?: Readonly<Record<string, JsonObject>>
  content: { [PROBLEM_CONTENT_TYPE]: { schema: typeof ProblemSchema; examples: Readonly<Record<string, { $ref: string }>> } }
}

/**
 * An error answer of the route itself: what it means, the codes it carries, and the headers
 * it sends (`{ 'Retry-After': RetryAfterHeader }`). Usable as is in `schema.response`.
 */
export function problemResponse (description: string, codes: readonly ExampleCode[], headers?: Readonly<Record<string, JsonObject>>): ProblemResponse {
  return {
    description,
    ...(headers === undefined ? {} : { headers }),
    content: {
      [PROBLEM_CONTENT_TYPE]: {
        schema: ProblemSchema,
        examples: Object.fromEntries(codes.map((code) => [code, refTo('examples', code)]))
      }
    }
  }
}

/** The codes an error answer names: the keys of its examples. */
export function codesOf (response: JsonObject): string[] {
  const content = response.content as Record<string, { examples?: Record<string, unknown> }> | undefined
  return Object.keys(content?.[PROBLEM_CONTENT_TYPE]?.examples ?? {})
}
