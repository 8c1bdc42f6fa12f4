/**
 * Calls to the API with the access token (oauth4webapi's protectedResourceRequest): as
 * `Authorization: Bearer`, or in DPoP mode as `Authorization: DPoP` with a fresh `DPoP` proof
 * per request (oauth4webapi makes it, and keeps the API's nonce when it sends one). A refusal is
 * not thrown: it comes back with its status, the `WWW-Authenticate` challenge's parameters
 * (parsed by oauth4webapi) and the problem+json body, so that the page can show why.
 *
 * The last DPoP request is kept as it went on the wire (URL, method, headers, body), so that the
 * page can send it again unchanged and show the API refusing the replayed proof.
 */
import * as oauth from 'oauth4webapi'

import { retryOnNonce } from './dpop.js'
import type { DpopKey } from './dpop.js'
import { insecureIfLoopback } from './loopback.js'

export interface Problem {
  type?: string
  title?: string
  status?: number
  detail?: string
  code?: string
}

export interface ApiAnswer {
  ok: boolean
  status: number
  statusText: string
  /** The JSON body (a problem+json document when not ok), or undefined for an empty body. */
  body: unknown
  /** `error` and `error_description` of the challenge (DPoP or Bearer), when the API sent one. */
  error: string | undefined
  errorDescription: string | undefined
  /** The problem body's stable `code` (e.g. ERR_DPOP_PROOF_REPLAYED), when refused. */
  code: string | undefined
}

export interface Message {
  id: string
  text: string
  createdAt: string
}

/** A request exactly as it was sent. */
export interface SentRequest {
  method: string
  url: string
  headers: Record<string, string>
  body: string | undefined
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
  #lastDpopRequest: SentRequest | undefined

  constructor(baseUrl: string) {
    this.#baseUrl = baseUrl
  }

  /** The last request sent with a DPoP proof, headers and all. */
  get lastDpopRequest(): SentRequest | undefined {
    return this.#lastDpopRequest
  }

  /** Forgets the captured request (at logout). */
  forget(): void {
    this.#lastDpopRequest = undefined
  }

  /** With `dpop`: the DPoP scheme and a fresh proof, and once more with the API's nonce when it asks for one. */
  async call(token: string, method: string, path: string, json?: unknown, dpop?: DpopKey): Promise<ApiAnswer> {
    const url = new URL(path, this.#baseUrl)
    const headers = new Headers({ accept: 'application/json' })
    let body: string | undefined
    if (json !== undefined) {
      headers.set('content-type', 'application/json')
      body = JSON.stringify(json)
    }
    const options: oauth.ProtectedResourceRequestOptions = { ...insecureIfLoopback(this.#baseUrl) }
    if (dpop !== undefined) {
      options.DPoP = dpop.handle
      options[oauth.customFetch] = (input, init) => {
        this.#lastDpopRequest = { method: init.method, url: input, headers: { ...init.headers }, body }
        // the body is this call's JSON string (or none), which fetch takes as it is
        return fetch(input, init as RequestInit)
      }
    }
    return this.#answer(
      retryOnNonce(dpop, () => oauth.protectedResourceRequest(token, method, url, headers, body, options)),
      dpop === undefined ? 'bearer' : 'dpop'
    )
  }

  /** Sends the last DPoP request again, byte for byte the same Authorization and DPoP headers. */
  async replayLastDpopRequest(): Promise<ApiAnswer> {
    const sent = this.#lastDpopRequest
    if (sent === undefined) throw new Error('no DPoP request to replay yet')
    // oauth4webapi only reads the answer's challenge here: its customFetch sends the captured
    // request as it stands, ignoring the Authorization header oauth4webapi would have set
    const replay = (): Promise<Response> =>
      fetch(sent.url, { method: sent.method, headers: sent.headers, body: sent.body ?? null, redirect: 'manual' })
    return this.#answer(
      oauth.protectedResourceRequest('replay', sent.method, new URL(sent.url), undefined, undefined, {
        ...insecureIfLoopback(this.#baseUrl),
        [oauth.customFetch]: replay
      }),
      'dpop'
    )
  }

  /** The answer, with the challenge of the scheme the request used (Bearer's when there is no other). */
  async #answer(request: Promise<Response>, scheme: 'bearer' | 'dpop'): Promise<ApiAnswer> {
    let response: Response
    let challenge: oauth.WWWAuthenticateChallengeParameters | undefined
    try {
      response = await request
    } catch (error) {
      if (!(error instanceof oauth.WWWAuthenticateChallengeError)) throw error
      response = error.response
      challenge = (
        error.cause.find((candidate) => candidate.scheme === scheme) ?? error.cause.find((candidate) => candidate.scheme === 'bearer')
      )?.parameters
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
      errorDescription: challenge?.error_description ?? (response.ok ? undefined : problem?.detail),
      code: response.ok ? undefined : problem?.code
    }
  }
}

/** One line that says why a call failed, for the page. */
export function describeFailure(answer: ApiAnswer): string {
  const reason = answer.errorDescription ?? (answer.body as Problem | undefined)?.title ?? 'no explanation given'
  return `HTTP ${answer.status}: ${reason}`
}
