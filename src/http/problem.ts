/**
 * Problem Details for HTTP APIs (RFC 9457): every error body of this API, built by one
 * function, `problem(code, detail?)`, from one of two tables of stable codes: AUTH_ERRORS
 * (src/token/errors.ts, the refusals of the token pipeline) and HTTP_ERRORS below (everything
 * else: unknown routes, bodies, limits, readiness, internal errors).
 */
import { STATUS_CODES as STATUS_TEXT } from 'node:http'
import type { FastifyReply } from 'fastify'
import { AUTH_ERRORS, type AuthErrorCode, type AuthErrorDefinition } from '../token/errors.js'

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

export interface HttpErrorDefinition {
  status: number
  title: string
  /** The default `detail`: safe for the client. */
  detail: string
}

/** The codes of every error that is not a refusal of the credentials. */
export const HTTP_ERRORS = {
  ERR_VALIDATION: { status: 400, title: 'Bad Request', detail: 'The request does not match the operation\'s schema.' },
  ERR_MALFORMED_BODY: { status: 400, title: 'Bad Request', detail: 'The request body is not valid JSON.' },
  ERR_BAD_REQUEST: { status: 400, title: 'Bad Request', detail: 'The request is malformed.' },
  ERR_ROUTE_NOT_FOUND: { status: 404, title: 'Not Found', detail: 'No such route.' },
  ERR_MESSAGE_NOT_FOUND: { status: 404, title: 'Not Found', detail: 'No such message.' },
  ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method Not Allowed', detail: 'The route does not accept this method.' },
  ERR_NOT_ACCEPTABLE: { status: 406, title: 'Not Acceptable', detail: 'The route cannot answer in a media type the request accepts.' },
  ERR_REQUEST_TIMEOUT: { status: 408, title: 'Request Timeout', detail: 'The request was not received in time.' },
  ERR_MESSAGE_LIMIT: { status: 409, title: 'Conflict', detail: 'The caller holds as many messages as allowed; delete one first.' },
  ERR_BODY_TOO_LARGE: { status: 413, title: 'Content Too Large', detail: 'The request body is larger than this route accepts.' },
  ERR_URI_TOO_LONG: { status: 414, title: 'URI Too Long', detail: 'The request URI (or one of its path parameters) is too long.' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported Media Type', detail: 'The route does not accept a body of this content type.' },
  ERR_TOO_MANY_REQUESTS: { status: 429, title: 'Too Many Requests', detail: 'Too many requests; retry later.' },
  ERR_HEADERS_TOO_LARGE: { status: 431, title: 'Request Header Fields Too Large', detail: 'The request headers are too large.' },
  /** Any other 4xx: the body carries the error's own status (and its standard title). */
  ERR_CLIENT_ERROR: { status: 400, title: 'Client Error', detail: 'The request cannot be answered.' },
  ERR_INTERNAL: { status: 500, title: 'Internal Server Error', detail: 'The server could not complete the request.' },
  ERR_NOT_READY: { status: 503, title: 'Service Unavailable', detail: 'The issuer\'s signing keys are not loaded yet.' }
} as const satisfies Record<string, HttpErrorDefinition>

export type HttpErrorCode = keyof typeof HTTP_ERRORS
export type ProblemCode = HttpErrorCode | AuthErrorCode

/** Framework (Fastify) error codes with a code of their own here; other errors go by status. */
const FRAMEWORK_CODES: Readonly<Record<string, HttpErrorCode>> = {
  FST_ERR_VALIDATION: 'ERR_VALIDATION',
  FST_ERR_CTP_INVALID_JSON_BODY: 'ERR_MALFORMED_BODY',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_MALFORMED_BODY',
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_NOT_FOUND: 'ERR_ROUTE_NOT_FOUND',
  FST_ERR_MAX_PARAM_LENGTH: 'ERR_URI_TOO_LONG'
}

/** The code of a status, for client errors without a framework code listed above. */
const STATUS_CODES: Readonly<Record<number, HttpErrorCode>> = {
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

const OAUTH_TYPES: Record<string, string> = {
  invalid_request: 'https://www.rfc-editor.org/rfc/rfc6750#section-3.1',
  invalid_token: 'https://www.rfc-editor.org/rfc/rfc6750#section-3.1',
  insufficient_scope: 'https://www.rfc-editor.org/rfc/rfc6750#section-3.1'
}

function problemType (oauthError: string | undefined): string {
  return oauthError === undefined ? 'about:blank' : (OAUTH_TYPES[oauthError] ?? 'about:blank')
}

function isHttpErrorCode (code: string): code is HttpErrorCode {
  return Object.hasOwn(HTTP_ERRORS, code)
}

/** The problem body of a code: its table's status and title, and `detail` or the code's default sentence. */
export function problem (code: ProblemCode, detail?: string): Problem {
  if (isHttpErrorCode(code)) {
    const definition: HttpErrorDefinition = HTTP_ERRORS[code]
    return { type: 'about:blank', title: definition.title, status: definition.status, detail: detail ?? definition.detail, code }
  }
  const definition: AuthErrorDefinition = AUTH_ERRORS[code]
  return {
    // RFC 6750 §3: a request without credentials gets a challenge without an error code
    type: definition.oauthError === undefined && definition.status === 401 ? 'https://www.rfc-editor.org/rfc/rfc6750#section-3' : problemType(definition.oauthError),
    title: definition.status === 503 ? 'Service Unavailable' : definition.title,
    status: definition.status,
    detail: detail ?? definition.title,
    code
  }
}

/** Every code an error body can carry, with its status and title (documented in the OpenAPI Problem schema). */
export const PROBLEM_CODES: ReadonlyArray<{ code: ProblemCode; status: string; title: string }> =
  ([...Object.keys(AUTH_ERRORS), ...Object.keys(HTTP_ERRORS)] as ProblemCode[]).map((code) => {
    const { status, title } = problem(code)
    return code === 'ERR_CLIENT_ERROR' ? { code, status: '4xx', title: 'the standard title of the status' } : { code, status: String(status), title }
  })

/**
 * The problem for an error the framework raised (a 4xx with a status, a framework code, or
 * neither): the error's own message never reaches the body, only the table's sentence.
 */
export function frameworkProblem (error: { code?: string | undefined; statusCode?: number | undefined }): Problem {
  const byCode = error.code === undefined ? undefined : FRAMEWORK_CODES[error.code]
  if (byCode !== undefined) return problem(byCode)
  const status = error.statusCode
  if (status === undefined || status < 400 || status > 499) return problem('ERR_INTERNAL')
  const byStatus = STATUS_CODES[status]
  if (byStatus !== undefined) return problem(byStatus)
  return { ...problem('ERR_CLIENT_ERROR'), status, title: STATUS_TEXT[status] ?? 'Client Error' }
}

export function sendProblem (reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body)
}
