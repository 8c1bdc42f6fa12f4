/**
 * The development issuer (oidc-provider, dev/issuer) on loopback together with the app
 * configured for it, as the development stack runs them: real access and ID tokens, from
 * client credentials or the authorization code flow of a demo user.
 */
import type { FastifyInstance } from 'fastify'
import { startDevIssuer, type DevIssuer, type DevIssuerOptions } from '../../dev/issuer/index.js'
import { authorizationCodeLogin, clientCredentialsToken, type LoginTokens } from './oidc-flow.js'
import { AUDIENCE, buildTestApp } from './test-api.js'

/** The development issuer's default SPA redirect URI. */
const SPA_REDIRECT_URI = 'http://127.0.0.1:5173/callback'

export interface DevApiOptions {
  /** On top of AUTH_ISSUER, AUTH_AUDIENCE (the issuer's audience) and the issuer's introspection client. */
  env?: Record<string, string>
  /** Listen on 127.0.0.1: on a free port (true) or on this one. Default: no socket (inject). */
  listen?: boolean | number
  /** A clock the test moves with advance(); the provider keeps real time. */
  fakeClock?: boolean
}

export interface DevApi {
  app: FastifyInstance
  /** `http://127.0.0.1:PORT`, when listening. */
  url: string
  /** Moves the app's clock (ms), with `fakeClock`. */
  advance(ms: number): void
}

export interface DevIssuerApiOptions extends DevApiOptions {
  /** The development issuer's options; `audience` defaults to AUDIENCE. */
  issuer?: Partial<DevIssuerOptions>
}

export interface DevIssuerApi extends DevApi {
  issuer: DevIssuer
  /** Another app on the same issuer, with settings of its own; closed by close(). */
  startApi(options?: DevApiOptions): Promise<DevApi>
  /** An access token for the API (resource = the audience) from the issuer's CLI client, by client credentials. */
  clientToken(scope?: string): Promise<string>
  /** The SPA client's authorization code flow with PKCE, signed in as the demo user `username`. */
  login(username: string, scope?: string): Promise<LoginTokens & { user: DevIssuer['users'][number] }>
  /** Closes the apps, then the issuer. */
  close(): Promise<void>
}

async function startDevApi(issuer: DevIssuer, audience: string, options: DevApiOptions): Promise<DevApi> {
  let offset = 0
  const app = await buildTestApp(
    {
      AUTH_ISSUER: issuer.issuer,
      AUTH_AUDIENCE: audience,
      AUTH_INTROSPECTION_CLIENT_ID: issuer.introspectionClient.clientId,
      AUTH_INTROSPECTION_CLIENT_SECRET: issuer.introspectionClient.clientSecret,
      ...options.env
    },
    { now: options.fakeClock === true ? () => Date.now() + offset : undefined }
  )
  let url: string | undefined
  if (options.listen !== undefined && options.listen !== false) {
    try {
      url = await app.listen({ host: '127.0.0.1', port: options.listen === true ? 0 : options.listen })
    } catch (error) {
      await app.close()
      throw error
    }
  }
  return {
    app,
    get url() {
      if (url === undefined) throw new Error('this app is not listening (start it with `listen`)')
      return url
    },
    advance: (ms) => {
      offset += ms
    }
  }
}

export async function startDevIssuerApi(options: DevIssuerApiOptions = {}): Promise<DevIssuerApi> {
  const audience = options.issuer?.audience ?? AUDIENCE
  const issuer = await startDevIssuer({ ...options.issuer, audience })
  const apis: DevApi[] = []
  const startApi = async (apiOptions: DevApiOptions = {}): Promise<DevApi> => {
    const api = await startDevApi(issuer, audience, apiOptions)
    apis.push(api)
    return api
  }
  let first: DevApi
  try {
    first = await startApi(options)
  } catch (error) {
    await issuer.close()
    throw error
  }

  return {
    issuer,
    app: first.app,
    get url() {
      return first.url
    },
    advance: (ms) => first.advance(ms),
    startApi,
    async clientToken(scope) {
      const response = await clientCredentialsToken({
        tokenEndpoint: issuer.tokenEndpoint,
        clientId: issuer.cliClient.clientId,
        clientSecret: issuer.cliClient.clientSecret,
        resource: audience,
        ...(scope === undefined ? {} : { scope })
      })
      return response.access_token
    },
    async login(username, scope) {
      const user = issuer.users.find((each) => each.username === username)
      if (user === undefined) throw new Error(`the development issuer has no user ${username}`)
      const tokens = await authorizationCodeLogin({
        issuer: issuer.issuer,
        clientId: issuer.spaClientId,
        redirectUri: options.issuer?.spa?.redirectUris[0] ?? SPA_REDIRECT_URI,
        username,
        password: user.password,
        ...(scope === undefined ? {} : { scope })
      })
      return { ...tokens, user }
    },
    async close() {
      await Promise.all(apis.map((api) => api.app.close()))
      await issuer.close()
    }
  }
}
