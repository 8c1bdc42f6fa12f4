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
import type { DetailArgs, ErrorCode } from '../errors.js'
import { ERRORS } from '../errors.js'
import { problem, PROBLEM_CONTENT_TYPE, type Problem } from '../http/problem.js'
import { ProblemSchema } from '../schemas/problem.js'
import { refTo, register, type Components } from './components.js'
import { clone, type JsonObject } from './json.js'

/** Any code of the error catalogue: each has its example, derived from the catalogue (problemExample). */
export type ExampleCode = ErrorCode

/** The `$id` of the Problem schema: its component's name. */
export const PROBLEM_SCHEMA_ID: string = (ProblemSchema as unknown as { $id: string }).$id

interface ProblemExample {
  summary: string
  value: Problem
}

/** The codes whose sentence cannot be worded without its variable parts (`detail` is a function of required parts). */
type CodeWithRequiredParts = { [C in ErrorCode]: [] extends DetailArgs<C> ? never : C }[ErrorCode]

/**
 * The variable parts the example of each such code is worded with: the compiler asks for an
 * entry when a code whose sentence needs parts joins the catalogue. Every other code's example
 * is its plain sentence: a new code needs nothing here.
 */
const EXAMPLE_PARTS: { readonly [C in CodeWithRequiredParts]: DetailArgs<C> } = {
  ERR_MULTIPLE_CREDENTIALS: [{ where: 'query' }],
  ERR_JWT_CLAIM_MISSING: [{ claim: 'exp' }],
  ERR_JWT_CLAIM_INVALID: [{ claim: 'exp', expected: 'numeric date', format: 'jwt' }],
  ERR_JWT_AUDIENCE_INVALID: [{ format: 'jwt' }],
  ERR_JWT_TYPE_INVALID: [{ typ: 'JWT' }],
  ERR_NOT_ACCESS_TOKEN: [{ typ: 'dpop+jwt' }],
  ERR_INSUFFICIENT_SCOPE: [{ scope: 'read:messages' }]
}

/**
 * A summary from a sentence: its first clause, up to the first `.`, `;` or `:` that ends one
 * ("The caller holds as many messages as allowed; delete one first." gives "The caller holds
 * as many messages as allowed"); an abbreviation such as "e.g." does not end it.
 */
export function summaryOf(sentence: string): string {
  const end = sentence.search(/(?<![.\s]\w)[.;:](?=\s|$)/)
  return (end === -1 ? sentence : sentence.slice(0, end)).trim()
}

/** The code names an entry of the error catalogue (src/errors.ts). */
export function isExampleCode(code: string): code is ExampleCode {
  return Object.hasOwn(ERRORS, code)
}

/**
 * The example body of a code, derived from the error catalogue alone: the body `problem(code)`
 * gives (worded with EXAMPLE_PARTS where its sentence needs parts), summarized by the first
 * clause of its sentence. The same function makes the real bodies, so the example is what a
 * client gets.
 */
export function problemExample(code: ExampleCode): ProblemExample {
  const parts: readonly unknown[] = (EXAMPLE_PARTS as Partial<Record<ErrorCode, readonly unknown[]>>)[code] ?? []
  const value = (problem as unknown as (code: ErrorCode, ...parts: unknown[]) => Problem)(code, ...parts)
  return { summary: summaryOf(value.detail), value: { ...value } }
}

/** A reference to the example of `code`, registering the example. */
export function exampleRef(code: string, components: Components): { $ref: string } {
  if (!isExampleCode(code))
    throw new Error(`no example body for the code ${code}: it is not in the error catalogue (ERRORS, src/errors.ts)`)
  return register(components, 'examples', code, clone<JsonObject>({ ...problemExample(code) }))
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
export function problemResponse(
  description: string,
  codes: readonly ExampleCode[],
  headers?: Readonly<Record<string, JsonObject>>
): ProblemResponse {
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
export function codesOf(response: JsonObject): string[] {
  const content = response.content as Record<string, { examples?: Record<string, unknown> }> | undefined
  return Object.keys(content?.[PROBLEM_CONTENT_TYPE]?.examples ?? {})
}
