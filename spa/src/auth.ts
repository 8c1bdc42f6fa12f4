/**
 * The browser side of OpenID Connect with oauth4webapi: authorization code flow with PKCE (S256),
 * `state` and `nonce`, a resource indicator (RFC 8707) so that the access token is for the API,
 * and refresh-token rotation. Tokens live in this module's memory only: a reload forgets them.
 * Only the PKCE verifier, state and nonce of a login in progress sit in sessionStorage, because
 * they must survive the trip to the issuer and back; they are removed at the callback.
 *
 * In DPoP mode (RFC 9449) the code is exchanged with a proof by a key made at the callback
 * (spa/src/dpop.ts): the issuer binds the access token (`cnf.jkt`) and the refresh token to that
 * key, and every refresh carries a proof by the same key.
 */
import * as oauth from 'oauth4webapi'

import type { SpaConfig } from './config.js'
import { createDpopKey, retryOnNonce } from './dpop.js'
import type { DpopKey } from './dpop.js'
import { insecureIfLoopback } from './loopback.js'

export interface Tokens {
  /** For this app: who signed in. Validated (iss, aud, exp, nonce) by oauth4webapi. */
  idToken: string
  idTokenClaims: oauth.IDToken
  /** For the API: sent as `Authorization: Bearer` (or `DPoP`), never read by the app to make decisions. */
  accessToken: string
  /** `bearer`, or `dpop` for a token bound to the key of `Auth.dpop`. */
  tokenType: string
  /** Epoch milliseconds. */
  accessTokenExpiresAt: number
  scope: string | undefined
  refreshToken: string | undefined
}

interface PendingLogin {
  codeVerifier: string
  state: string
  nonce: string
  /** The login asked for DPoP-bound tokens (the switch as it was when "Log in" was clicked). */
  dpop?: true
}

const PENDING_KEY = 'demo-spa:pending-login'
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 30_000

function redirectUri(): string {
  return `${window.location.origin}/callback`
}

export class Auth {
  readonly #config: SpaConfig
  readonly #client: oauth.Client
  #server: oauth.AuthorizationServer | undefined
  #tokens: Tokens | undefined
  #dpop: DpopKey | undefined
  #refreshing: Promise<string> | undefined

  constructor(config: SpaConfig) {
    this.#config = config
    this.#client = { client_id: config.clientId }
  }

  get tokens(): Tokens | undefined {
    return this.#tokens
  }

  /** The key the tokens are bound to, in DPoP mode; undefined for Bearer tokens. */
  get dpop(): DpopKey | undefined {
    return this.#dpop
  }

  /** The issuer's metadata, fetched once (OpenID Connect Discovery). */
  async #authorizationServer(): Promise<oauth.AuthorizationServer> {
    if (this.#server === undefined) {
      const issuer = new URL(this.#config.issuer)
      const response = await oauth.discoveryRequest(issuer, insecureIfLoopback(this.#config.issuer))
      this.#server = await oauth.processDiscoveryResponse(issuer, response)
    }
    return this.#server
  }

  /** Sends the browser to the issuer's authorization endpoint; with `dpop`, for DPoP-bound tokens. */
  async login(dpop = false): Promise<void> {
    const as = await this.#authorizationServer()
    if (as.authorization_endpoint === undefined) throw new Error('the issuer publishes no authorization_endpoint')
    if (dpop && !(as.dpop_signing_alg_values_supported ?? []).includes('ES256')) {
      throw new Error('the issuer does not take ES256 DPoP proofs (dpop_signing_alg_values_supported)')
    }
    const pending: PendingLogin = {
      codeVerifier: oauth.generateRandomCodeVerifier(),
      state: oauth.generateRandomState(),
      nonce: oauth.generateRandomNonce(),
      ...(dpop ? { dpop: true as const } : {})
    }
    const url = new URL(as.authorization_endpoint)
    url.search = new URLSearchParams({
      client_id: this.#config.clientId,
      redirect_uri: redirectUri(),
      response_type: 'code',
      scope: this.#config.scope,
      resource: this.#config.resource,
      code_challenge: await oauth.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      // ask for the password every time, so that "Log out" then "Log in" can switch users
      prompt: 'login'
    }).toString()
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending))
    window.location.assign(url.href)
  }

  /** True when the current URL is the issuer's answer to a login this tab started. */
  isCallback(location: Location): boolean {
    return location.pathname === '/callback' && sessionStorage.getItem(PENDING_KEY) !== null
  }

  /** Checks the authorization response and exchanges the code for tokens. */
  async completeLogin(callbackUrl: URL): Promise<Tokens> {
    const raw = sessionStorage.getItem(PENDING_KEY)
    sessionStorage.removeItem(PENDING_KEY)
    if (raw === null) throw new Error('no login in progress in this tab')
    const pending = JSON.parse(raw) as PendingLogin
    const as = await this.#authorizationServer()
    const params = oauth.validateAuthResponse(as, this.#client, callbackUrl, pending.state)
    const dpop = pending.dpop === true ? await createDpopKey(this.#client) : undefined
    const result = await retryOnNonce(dpop, async () => {
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        this.#client,
        oauth.None(),
        params,
        redirectUri(),
        pending.codeVerifier,
        {
          ...insecureIfLoopback(this.#config.issuer),
          additionalParameters: { resource: this.#config.resource },
          ...(dpop === undefined ? {} : { DPoP: dpop.handle })
        }
      )
      return oauth.processAuthorizationCodeResponse(as, this.#client, response, {
        expectedNonce: pending.nonce,
        requireIdToken: true
      })
    })
    this.#tokens = this.#fromResponse(result, undefined, dpop)
    this.#dpop = dpop
    return this.#tokens
  }

  /**
   * The access token, refreshed first when it is about to expire. The issuer rotates refresh
   * tokens (a used one is dead), so concurrent callers share one refresh.
   */
  async accessToken(): Promise<string> {
    const tokens = this.#tokens
    if (tokens === undefined) throw new Error('not signed in')
    if (tokens.accessTokenExpiresAt - Date.now() > REFRESH_MARGIN_MS || tokens.refreshToken === undefined) {
      return tokens.accessToken
    }
    this.#refreshing ??= this.#refresh(tokens, tokens.refreshToken).finally(() => {
      this.#refreshing = undefined
    })
    return this.#refreshing
  }

  async #refresh(tokens: Tokens, refreshToken: string): Promise<string> {
    const as = await this.#authorizationServer()
    // a DPoP-bound refresh token is refused without a proof by the same key
    const dpop = this.#dpop
    const result = await retryOnNonce(dpop, async () => {
      const response = await oauth.refreshTokenGrantRequest(as, this.#client, oauth.None(), refreshToken, {
        ...insecureIfLoopback(this.#config.issuer),
        additionalParameters: { resource: this.#config.resource },
        ...(dpop === undefined ? {} : { DPoP: dpop.handle })
      })
      return oauth.processRefreshTokenResponse(as, this.#client, response)
    })
    // a logout while the refresh was in flight wins
    if (this.#tokens !== tokens) throw new Error('signed out')
    this.#tokens = this.#fromResponse(result, tokens, dpop)
    return this.#tokens.accessToken
  }

  /** Forgets every token (they only ever lived in memory). */
  logout(): void {
    this.#tokens = undefined
    this.#dpop = undefined
    sessionStorage.removeItem(PENDING_KEY)
  }

  #fromResponse(result: oauth.TokenEndpointResponse, previous: Tokens | undefined, dpop: DpopKey | undefined): Tokens {
    // a proof was sent: a Bearer token back means the issuer did not bind it, and the app says so
    if (dpop !== undefined && result.token_type !== 'dpop') {
      throw new Error(`asked for a DPoP-bound token, the issuer answered token_type "${result.token_type}"`)
    }
    const claims = oauth.getValidatedIdTokenClaims(result)
    const idToken = result.id_token ?? previous?.idToken
    const idTokenClaims = claims ?? previous?.idTokenClaims
    if (idToken === undefined || idTokenClaims === undefined) throw new Error('the token response has no ID token')
    return {
      idToken,
      idTokenClaims,
      accessToken: result.access_token,
      tokenType: result.token_type,
      accessTokenExpiresAt: Date.now() + (result.expires_in ?? 60) * 1000,
      scope: result.scope,
      refreshToken: result.refresh_token ?? previous?.refreshToken
    }
  }
}
