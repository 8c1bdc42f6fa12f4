/**
 * Calls to the API with a bearer token (oauth4webapi's protectedResourceRequest). A refusal is
 * not thrown: it comes back with its status, the `WWW-Authenticate` challenge's parameters
 * (parsed by oauth4webapi) and the problem+json body, so that the page can show why.
 */
import * as oauth from 'oauth4webapi'

import { insecureIfLoopback } from './loopback.js'

export interface Problem {
  type?: string
  title?: string
  status?: number
  detail?: string
}

export interface ApiAnswer {
  ok: boolean
  status: number
  statusText: string
  /** The JSON body (a problem+json document when not ok), or undefined for an empty body. */
  body: unknown
  /** `error` and `error_description` of the Bearer challenge, when the API sent one. */
  error: string | undefined
  errorDescription: string | undefined
}

export interface Message {
  id: string
  text: string
  createdAt: string
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text()
  if (text === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

export class Api {
  readonly #baseUrl: string

  constructor(baseUrl: string) {
    this.#baseUrl = baseUrl
  }

  async call(token: string, method: string, path: string, json?: unknown): Promise<ApiAnswer> {
    const url = new URL(path, this.#baseUrl)
    const headers = new Headers({ accept: 'application/json' })
    let body: string | undefined
    if (json !== undefined) {
      headers.set('content-type', 'application/json')
      body = JSON.stringify(json)
    }
    let response: Response
    let challenge: oauth.WWWAuthenticateChallengeParameters | undefined
    try {
      response = await oauth.protectedResourceRequest(token, method, url, headers, body, insecureIfLoopback(this.#baseUrl))
    } catch (error) {
      if (!(error instanceof oauth.WWWAuthenticateChallengeError)) throw error
      response = error.response
      challenge = error.cause.find((candidate) => candidate.scheme === 'bearer')?.parameters
    }
    const answerBody = await readJson(response)
    const problem = typeof answerBody === 'object' && answerBody !== null ? (answerBody as Problem) : undefined
    return {
      ok: response.ok,
      status: response.status,
      statusText: response.statusText,
      body: answerBody,
      error: challenge?.error,
      // the challenge's description first; a problem body's detail when there is no challenge
      errorDescription: challenge?.error_description ?? (response.ok ? undefined : problem?.detail)
    }
  }
}

/** One line that says why a call failed, for the page. */
export function describeFailure(answer: ApiAnswer): string {
  const reason = answer.errorDescription ?? (answer.body as Problem | undefined)?.title ?? 'no explanation given'
  return `HTTP ${answer.status}: ${reason}`
}
