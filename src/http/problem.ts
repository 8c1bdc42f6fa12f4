/**
 * Problem Details for HTTP APIs (RFC 9457): every error body of this API.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  /** Stable machine-readable reason (ERR_…), when there is one. */
  code?: string
  instance?: string
}

const OAUTH_TYPES: Record<string, string> = {
  invalid_request: 'https://www.rfc-editor.org/rfc/rfc6750#section-3.1',
  invalid_token: 'https://www.rfc-editor.org/rfc/rfc6750#section-3.1',
  insufficient_scope: 'https://www.rfc-editor.org/rfc/rfc6750#section-3.1'
}

export const STATUS_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable'
}

export function problemType (oauthError: string | undefined): string {
  return oauthError === undefined ? 'about:blank' : (OAUTH_TYPES[oauthError] ?? 'about:blank')
}
