/**
 * DPoP (RFC 9449) end to end outside the browser: a real OpenID provider (oidc-provider, the
 * development issuer) binds an access token to a key of the client, and the API, listening on
 * real loopback HTTP, takes it only with proofs by that key. Tokens and proofs are made by
 * independent client libraries (oauth4webapi, and the `dpop` package), never by the project.
 */
import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { freePort } from '../../scripts/free-port.js'
import { startDevIssuerApi, type DevApi, type DevIssuerApi } from '../helpers/dev-issuer-api.js'
import { AUDIENCE } from '../helpers/test-api.js'

const insecure = { [oauth.allowInsecureRequests]: true } as const

/** An ES256 key pair as a browser makes it: the private key cannot be exported. */
function keyPair(): Promise<oauth.CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
}

interface Refusal {
  status: number
  challenge: string
  code: string
}

/** A protected-resource request by oauth4webapi, its refusal (WWW-Authenticate) caught and read. */
async function call(
  token: string,
  url: string,
  dpop: oauth.DPoPHandle | undefined,
  init: { method?: string; json?: unknown } = {}
): Promise<Response | Refusal> {
  const headers = new Headers({ accept: 'application/json' })
  if (init.json !== undefined) headers.set('content-type', 'application/json')
  try {
    return await oauth.protectedResourceRequest(
      token,
      init.method ?? 'GET',
      new URL(url),
      headers,
      init.json === undefined ? undefined : JSON.stringify(init.json),
      { ...insecure, ...(dpop === undefined ? {} : { DPoP: dpop }) }
    )
  } catch (error) {
    if (!(error instanceof oauth.WWWAuthenticateChallengeError)) throw error
    const body = (await error.response.json()) as { code: string }
    return { status: error.status, challenge: error.response.headers.get('www-authenticate') ?? '', code: body.code }
  }
}

function ok(answer: Response | Refusal): Response {
  if (!(answer instanceof Response)) throw new Error(`refused: ${JSON.stringify(answer)}`)
  return answer
}

describe('DPoP with a real OpenID provider', () => {
  let dev: DevIssuerApi
  let as: oauth.AuthorizationServer
  let apiUrl: string
  const client: oauth.Client = { client_id: 'dev-cli' }
  let keys: oauth.CryptoKeyPair
  let dpop: oauth.DPoPHandle
  let token: string

  /** A client_credentials token for the API, with a DPoP proof at the token endpoint when `handle` is given. */
  async function clientToken(handle: oauth.DPoPHandle | undefined): Promise<{ raw: Record<string, unknown>; token: string }> {
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(dev.issuer.cliClient.clientSecret),
      { resource: AUDIENCE, scope: 'read:messages write:messages' },
      { ...insecure, ...(handle === undefined ? {} : { DPoP: handle }) }
    )
    const raw = (await response.clone().json()) as Record<string, unknown>
    const result = await oauth.processClientCredentialsResponse(as, client, response)
    return { raw, token: result.access_token }
  }

  beforeAll(async () => {
    // the proofs' htu names the URL the client calls: the API's PUBLIC_URL is that URL
    const port = await freePort()
    apiUrl = `http://127.0.0.1:${port}`
    dev = await startDevIssuerApi({ listen: port, env: { PUBLIC_URL: apiUrl } })
    client.client_id = dev.issuer.cliClient.clientId
    const issuer = new URL(dev.issuer.issuer)
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure))
    keys = await keyPair()
    dpop = oauth.DPoP(client, keys)
    token = (await clientToken(dpop)).token
  })

  afterAll(async () => {
    await dev?.close()
  })

  it('the provider advertises DPoP and binds the token of a client that proves a key: token_type DPoP, cnf.jkt', async () => {
    expect(as.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']))
    const bound = await clientToken(dpop)
    expect(bound.raw['token_type']).toBe('DPoP')
    expect(decodeProtectedHeader(bound.token).typ).toBe('at+jwt')
    expect(decodeJwt(bound.token)).toMatchObject({
      aud: AUDIENCE,
      client_id: dev.issuer.cliClient.clientId,
      cnf: { jkt: await dpop.calculateThumbprint() }
    })
    // without a proof the same client still gets a plain Bearer token
    const plain = await clientToken(undefined)
    expect(plain.raw['token_type']).toBe('Bearer')
    expect(decodeJwt(plain.token).cnf).toBeUndefined()
  })

  it('the API answers the bound token with DPoP proofs by its key: 200 on every route', async () => {
    const me = ok(await call(token, `${apiUrl}/api/me`, dpop))
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ clientId: dev.issuer.cliClient.clientId, issuer: dev.issuer.issuer })

    const created = ok(await call(token, `${apiUrl}/api/messages`, dpop, { method: 'POST', json: { text: 'sent with a proof' } }))
    expect(created.status).toBe(201)
    const { id } = (await created.json()) as { id: string }
    const list = ok(await call(token, `${apiUrl}/api/messages`, dpop))
    expect(((await list.json()) as { text: string }[]).map((message) => message.text)).toEqual(['sent with a proof'])
    const deleted = ok(await call(token, `${apiUrl}/api/messages/${id}`, dpop, { method: 'DELETE' }))
    expect(deleted.status).toBe(204)
  })

  it('takes proofs made by another library (`dpop`) with the same key', async () => {
    const proof = await generateProof(keys, `${apiUrl}/api/me`, 'GET', undefined, token)
    const res = await fetch(`${apiUrl}/api/me`, { headers: { authorization: `DPoP ${token}`, dpop: proof } })
    expect(res.status, await res.clone().text()).toBe(200)
  })

  it('the same token as Bearer: 401 ERR_TOKEN_SENDER_CONSTRAINED', async () => {
    const refused = await call(token, `${apiUrl}/api/me`, undefined)
    expect(refused).toMatchObject({ status: 401, code: 'ERR_TOKEN_SENDER_CONSTRAINED' })
    expect((refused as Refusal).challenge).toMatch(/Bearer [^,]*.*error="invalid_token"/)
  })

  it('a proof by another key: 401 ERR_DPOP_KEY_MISMATCH', async () => {
    const other = oauth.DPoP(client, await keyPair())
    const refused = await call(token, `${apiUrl}/api/me`, other)
    expect(refused).toMatchObject({ status: 401, code: 'ERR_DPOP_KEY_MISMATCH' })
    expect((refused as Refusal).challenge).toMatch(/^DPoP algs="[^"]+", error="invalid_dpop_proof"/)

    // the `dpop` package's own key pair: the same refusal
    const stranger = await generateKeyPair('ES256')
    expect(await calculateThumbprint(stranger.publicKey)).not.toBe(await dpop.calculateThumbprint())
    const proof = await generateProof(stranger, `${apiUrl}/api/me`, 'GET', undefined, token)
    const res = await fetch(`${apiUrl}/api/me`, { headers: { authorization: `DPoP ${token}`, dpop: proof } })
    expect(res.status).toBe(401)
    expect(((await res.json()) as { code: string }).code).toBe('ERR_DPOP_KEY_MISMATCH')
  })

  it('the same request sent twice (the proof replayed): 200, then 401 ERR_DPOP_PROOF_REPLAYED', async () => {
    let sent: { url: string; headers: Record<string, string> } | undefined
    const first = await oauth.protectedResourceRequest(token, 'GET', new URL(`${apiUrl}/api/me`), undefined, undefined, {
      ...insecure,
      DPoP: dpop,
      [oauth.customFetch]: (url, init) => {
        sent = { url, headers: { ...init.headers } }
        return fetch(url, init as RequestInit)
      }
    })
    expect(first.status).toBe(200)
    expect(sent?.headers['authorization']).toBe(`DPoP ${token}`)
    const again = await fetch(sent?.url ?? '', { headers: sent?.headers ?? {} })
    expect(again.status).toBe(401)
    expect(again.headers.get('www-authenticate')).toMatch(/^DPoP algs="[^"]+", error="invalid_dpop_proof"/)
    expect(((await again.json()) as { code: string }).code).toBe('ERR_DPOP_PROOF_REPLAYED')
  })

  describe('with server nonces at the API (AUTH_DPOP_NONCE=on)', () => {
    let nonceApi: DevApi

    beforeAll(async () => {
      const port = await freePort()
      nonceApi = await dev.startApi({
        listen: port,
        env: { PUBLIC_URL: `http://127.0.0.1:${port}`, AUTH_DPOP_NONCE: 'on', AUTH_DPOP_NONCE_SECRET: 'a'.repeat(32) + 'nonce-secret' }
      })
    })

    it('the first proof without a nonce gets 401 use_dpop_nonce and a DPoP-Nonce; oauth4webapi retries with it: 200', async () => {
      const fresh = oauth.DPoP(client, keys)
      let refusal: unknown
      try {
        await oauth.protectedResourceRequest(token, 'GET', new URL(`${nonceApi.url}/api/me`), undefined, undefined, {
          ...insecure,
          DPoP: fresh
        })
      } catch (error) {
        refusal = error
      }
      expect(oauth.isDPoPNonceError(refusal)).toBe(true)
      expect((refusal as oauth.WWWAuthenticateChallengeError).response.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]+$/)

      const retried = await oauth.protectedResourceRequest(token, 'GET', new URL(`${nonceApi.url}/api/me`), undefined, undefined, {
        ...insecure,
        DPoP: fresh
      })
      expect(retried.status).toBe(200)
      expect(retried.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]+$/)
    })
  })
})

describe('DPoP with a real OpenID provider and opaque tokens (introspection)', () => {
  let dev: DevIssuerApi
  let apiUrl: string

  beforeAll(async () => {
    const port = await freePort()
    apiUrl = `http://127.0.0.1:${port}`
    dev = await startDevIssuerApi({
      listen: port,
      issuer: { accessTokenFormat: 'opaque' },
      env: { PUBLIC_URL: apiUrl, AUTH_TOKEN_FORMATS: 'opaque' }
    })
  })

  afterAll(async () => {
    await dev?.close()
  })

  it("binds the opaque token (introspection's cnf.jkt): 200 with proofs by the key, refused as Bearer or with another key", async () => {
    const issuer = new URL(dev.issuer.issuer)
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure))
    const client: oauth.Client = { client_id: dev.issuer.cliClient.clientId }
    const dpop = oauth.DPoP(client, await keyPair())
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(dev.issuer.cliClient.clientSecret),
      { resource: AUDIENCE, scope: 'read:messages' },
      { ...insecure, DPoP: dpop }
    )
    const result = await oauth.processClientCredentialsResponse(as, client, response)
    expect(result.token_type).toBe('dpop')
    expect(result.access_token.split('.')).toHaveLength(1)

    expect(ok(await call(result.access_token, `${apiUrl}/api/me`, dpop)).status).toBe(200)
    expect(await call(result.access_token, `${apiUrl}/api/me`, undefined)).toMatchObject({
      status: 401,
      code: 'ERR_TOKEN_SENDER_CONSTRAINED'
    })
    const other = oauth.DPoP(client, await keyPair())
    expect(await call(result.access_token, `${apiUrl}/api/me`, other)).toMatchObject({ status: 401, code: 'ERR_DPOP_KEY_MISMATCH' })
  })
})
