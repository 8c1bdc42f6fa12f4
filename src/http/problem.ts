/**
 * Problem Details for HTTP APIs (RFC 9457): every error body of this API, built by one
 * function, `problem(code, parts?)` (or `problem(error)` for an error that carries its code
 * and sentence), from the error catalogue (src/errors.ts): its status, title and sentence.
 */
import { STATUS_CODES as STATUS_TEXT } from 'node:http'
import type { FastifyReply } from 'fastify'
import { ERRORS, sentenceOf, type ClientError, type DetailArgs, type ErrorCode, type OAuthErrorCode } from '../errors.js'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  /** Stable machine-readable reason (ERR_…): clients switch on it, never on `detail`. */
  code: string
  instance?: string
}

/** Framework (Fastify) error codes with a code of their own here; other errors go by status. */
const FRAMEWORK_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_VALIDATION: 'ERR_VALIDATION',
  FST_ERR_CTP_INVALID_JSON_BODY: 'ERR_MALFORMED_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_MALFORMED_BODY',
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_NOT_FOUND: 'ERR_ROUTE_NOT_FOUND',
  FST_ERR_MAX_PARAM_LENGTH: 'ERR_URI_TOO_LONG'
}

/** The code of a status, for client errors without a framework code listed above. */
const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'ERR_BAD_REQUEST',
  404: 'ERR_ROUTE_NOT_FOUND',
  405: 'ERR_METHOD_NOT_ALLOWED',
  406: 'ERR_NOT_ACCEPTABLE',
  408: 'ERR_REQUEST_TIMEOUT',
  413: 'ERR_BODY_TOO_LARGE',
  414: 'ERR_URI_TOO_LONG',
  415: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  429: 'ERR_TOO_MANY_REQUESTS',
  431: 'ERR_HEADERS_TOO_LARGE'
}

const OAUTH_ERROR_TYPE = 'https://www.rfc-editor.org/rfc/rfc6750#section-3.1'
/** RFC 6750 §3: a request without credentials gets a challenge without an error code. */
const NO_CREDENTIALS_TYPE = 'https://www.rfc-editor.org/rfc/rfc6750#section-3'

function problemType(code: ErrorCode): string {
  const definition: { status: number; oauthError?: OAuthErrorCode | undefined } = ERRORS[code]
  if (definition.oauthError !== undefined) return OAUTH_ERROR_TYPE
  return 'oauthError' in definition && definition.status === 401 ? NO_CREDENTIALS_TYPE : 'about:blank'
}

function body(code: ErrorCode, detail: string): Problem {
  const { status, title } = ERRORS[code]
  return { type: problemType(code), title, status, detail, code }
}

/** The problem body of a code (its sentence worded with `parts`), or of an error that carries its code and sentence. */
export function problem<C extends ErrorCode>(code: C, ...parts: DetailArgs<C>): Problem
export function problem(error: ClientError): Problem
export function problem(codeOrError: ErrorCode | ClientError, ...parts: unknown[]): Problem {
  if (typeof codeOrError !== 'string') return body(codeOrError.code, codeOrError.description)
  return body(codeOrError, sentenceOf(codeOrError, ...(parts as DetailArgs<typeof codeOrError>)))
}

/** Every code an error body can carry, with its status and title (documented in the OpenAPI Problem schema). */
export const PROBLEM_CODES: ReadonlyArray<{ code: ErrorCode; status: string; title: string }> = (Object.keys(ERRORS) as ErrorCode[]).map(
  (code) => {
    const { status, title } = ERRORS[code]
    return code === 'ERR_CLIENT_ERROR'
      ? { code, status: '4xx', title: 'the standard title of the status' }
      : { code, status: String(status), title }
  }
)

/**
 * The problem for an error the framework raised (a 4xx with a status, a framework code, or
 * neither): the error's own message never reaches the body, only the table's sentence.
 */
export function frameworkProblem(error: { code?: string | undefined; statusCode?: number | undefined }): Problem {
  const byCode = error.code === undefined ? undefined : FRAMEWORK_CODES[error.code]
  if (byCode !== undefined) return problem(byCode)
  const status = error.statusCode
  if (status === undefined || status < 400 || status > 499) return problem('ERR_INTERNAL')
  const byStatus = STATUS_CODES[status]
  if (byStatus !== undefined) return problem(byStatus)
  return { ...problem('ERR_CLIENT_ERROR'), status, title: STATUS_TEXT[status] ?? 'Client Error' }
}

export function sendProblem(reply: FastifyReply, problemBody: Problem): FastifyReply {
  return reply.code(problemBody.status).type(PROBLEM_CONTENT_TYPE).send(problemBody)
}
