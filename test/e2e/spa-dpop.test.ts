// The demo SPA's DPoP mode (RFC 9449) in Chromium, against the real development issuer and API:
// the login binds the tokens to a key made in the tab, every API call carries a fresh proof by
// that key, the page shows the token's cnf.jkt, and "Replay last request" gets the API's refusal.
// The test learns the key from outside the page: the proofs on the wire, and an init script that
// records what crypto.subtle.generateKey made (the SPA itself exposes no key).
import type { Browser, BrowserContext, Page, Request, Response } from 'playwright-core'
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, jwtVerify, importJWK, type JWK } from 'jose'
import { generateKeyPair, generateProof } from 'dpop'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { startDevStack } from '../../dev/dev.js'
import type { DevStack } from '../../dev/dev.js'
import { launchChromium, openPage, screenshot } from './browser.js'

const eventually = <T>(value: () => Promise<T>) => expect.poll(value, { timeout: 15_000, interval: 50 })
const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true })
const claim = (page: Page, table: string, name: string) => page.getByRole('table', { name: table }).locator(`tr[data-claim="${name}"] td`)

/** Records every key pair the page generates with WebCrypto, before any script of the page runs. */
const RECORD_GENERATED_KEYS = `(() => {
  const generateKey = SubtleCrypto.prototype.generateKey
  window.__generatedKeys = []
  SubtleCrypto.prototype.generateKey = async function (...args) {
    const key = await generateKey.apply(this, args)
    window.__generatedKeys.push(key)
    return key
  }
})()`

interface SentToApi {
  method: string
  path: string
  authorization: string | undefined
  dpop: string | undefined
  status: number
}

interface SentToIssuer {
  grantType: string
  dpop: string | undefined
  status: number
  tokenType?: string
  accessToken?: string
}

interface Session {
  context: BrowserContext
  page: Page
  errors: string[]
  /** Requests to the API, in the order they were sent, with their answers' status (once all have finished: `settled`). */
  api: SentToApi[]
  /** Requests to the issuer's token endpoint, likewise. */
  tokenRequests: SentToIssuer[]
  /** Resolves once every request seen so far has finished and been recorded. */
  settled(): Promise<void>
}

async function openSession(browser: Browser, stack: DevStack): Promise<Session> {
  const { context, page, errors } = await openPage(browser)
  await page.addInitScript(RECORD_GENERATED_KEYS)
  const api: SentToApi[] = []
  const tokenRequests: SentToIssuer[] = []
  const pending: Promise<void>[] = []
  /** The request's answer, once it has been received in full (null when the request failed). */
  const answered = async (request: Request): Promise<Response | null> => {
    const response = await request.response()
    await response?.finished()
    return response
  }
  // slots are taken in the order the requests are sent; they are filled when the answers come
  page.on('request', (request: Request) => {
    const url = new URL(request.url())
    if (request.method() === 'OPTIONS') return
    if (url.origin === stack.apiUrl) {
      const slot = api.length
      pending.push(
        answered(request).then(async (response) => {
          const headers = await request.allHeaders()
          api[slot] = {
            method: request.method(),
            path: url.pathname,
            authorization: headers['authorization'],
            dpop: headers['dpop'],
            status: response?.status() ?? 0
          }
        })
      )
      api.length = slot + 1
    } else if (url.href === stack.tokenEndpoint) {
      const slot = tokenRequests.length
      pending.push(
        answered(request).then(async (response) => {
          const headers = await request.allHeaders()
          const body = response?.ok() === true ? ((await response.json()) as { token_type?: string; access_token?: string }) : {}
          tokenRequests[slot] = {
            grantType: new URLSearchParams(request.postData() ?? '').get('grant_type') ?? '',
            dpop: headers['dpop'],
            status: response?.status() ?? 0,
            ...(body.token_type === undefined ? {} : { tokenType: body.token_type }),
            ...(body.access_token === undefined ? {} : { accessToken: body.access_token })
          }
        })
      )
      tokenRequests.length = slot + 1
    }
  })
  return {
    context,
    page,
    errors,
    api,
    tokenRequests,
    settled: async () => {
      await Promise.all(pending)
    }
  }
}

async function logIn(page: Page, stack: DevStack, username: string, password: string): Promise<void> {
  await page.goto(stack.spaUrl)
  await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' })
  await page.getByRole('checkbox', { name: /Use DPoP/ }).check()
  await button(page, 'Log in').click()
  await page.waitForURL((url) => url.origin === stack.issuerUrl && url.pathname.startsWith('/interaction/'))
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await button(page, 'Sign in').click()
  await button(page, 'Log out').waitFor()
}

/** The RFC 7638 thumbprint of a proof's `jwk`, once its signature verifies with that key. */
async function proofKeyThumbprint(proof: string): Promise<string> {
  const header = decodeProtectedHeader(proof)
  expect(header.typ).toBe('dpop+jwt')
  const jwk = header.jwk as JWK
  expect(jwk.d).toBeUndefined()
  await jwtVerify(proof, await importJWK(jwk, header.alg), { typ: 'dpop+jwt' })
  return calculateJwkThumbprint(jwk)
}

async function messageStatus(page: Page): Promise<string | null> {
  return page.locator('#messages-status').textContent()
}

describe('demo SPA in DPoP mode, in Chromium', () => {
  let stack: DevStack
  let browser: Browser
  let alice: Session

  beforeAll(async () => {
    ;[stack, browser] = await Promise.all([startDevStack({ apiPort: 0, issuerPort: 0, spaPort: 0, logger: false }), launchChromium()])
  })

  afterAll(async () => {
    await alice?.context.close()
    await browser?.close()
    await stack?.close()
  })

  it('logs in with DPoP: the tokens are bound to a non-extractable key of the tab, and the page shows cnf.jkt', async () => {
    alice = await openSession(browser, stack)
    const { page } = alice
    await logIn(page, stack, 'alice', 'alice')
    await eventually(() => messageStatus(page)).toBe('No messages yet.')
    await eventually(() => page.locator('#user-name').textContent()).toBe('Alice Liddell')

    // the code was exchanged with a proof, and the issuer answered with a DPoP-bound token
    await alice.settled()
    const [exchange] = alice.tokenRequests
    expect(exchange).toMatchObject({ grantType: 'authorization_code', status: 200, tokenType: 'DPoP' })
    const keyThumbprint = await proofKeyThumbprint(exchange?.dpop ?? '')
    const cnf = decodeJwt(exchange?.accessToken ?? '').cnf as { jkt?: string } | undefined
    expect(cnf?.jkt).toBe(keyThumbprint)

    // the key the page generated: non-extractable private key, whose public half is the proofs' key
    const key = (await page.evaluate(`(async () => {
      const [pair] = window.__generatedKeys
      return {
        count: window.__generatedKeys.length,
        algorithm: pair.privateKey.algorithm,
        extractable: pair.privateKey.extractable,
        usages: pair.privateKey.usages,
        exportRefused: await crypto.subtle.exportKey('jwk', pair.privateKey).then(() => false, () => true),
        publicJwk: await crypto.subtle.exportKey('jwk', pair.publicKey)
      }
    })()`)) as { count: number; algorithm: unknown; extractable: boolean; usages: string[]; exportRefused: boolean; publicJwk: JWK }
    expect(key).toMatchObject({ count: 1, algorithm: { name: 'ECDSA', namedCurve: 'P-256' }, extractable: false, usages: ['sign'] })
    expect(key.exportRefused).toBe(true)
    expect(await calculateJwkThumbprint(key.publicJwk)).toBe(keyThumbprint)

    // the page shows the same: the claims table's cnf, the DPoP card's thumbprint and cnf.jkt
    expect(JSON.parse((await claim(page, 'Access token claims', 'cnf').textContent()) ?? '')).toEqual({ jkt: keyThumbprint })
    expect(await page.locator('#dpop-thumbprint').textContent()).toBe(keyThumbprint)
    expect(await page.locator('#dpop-cnf-jkt').textContent()).toBe(keyThumbprint)
    expect(await page.locator('#dpop-match').textContent()).toBe('= this key')
    expect(await page.locator('#dpop-key').textContent()).toBe('ECDSA P-256 (ES256), private key extractable: false')
    expect(await page.locator('#messages-scheme').textContent()).toContain('Authorization: DPoP <access token>')

    // the API was called with the DPoP scheme and a proof by that key
    const list = alice.api.find((sent) => sent.path === '/api/messages')
    expect(list).toMatchObject({ method: 'GET', status: 200 })
    expect(list?.authorization).toBe(`DPoP ${exchange?.accessToken}`)
    expect(await proofKeyThumbprint(list?.dpop ?? '')).toBe(keyThumbprint)
    // only the switch is stored, the tokens and the key stay in memory
    expect(await page.evaluate('JSON.stringify({ ...sessionStorage }) + localStorage.length')).toBe('{"demo-spa:dpop":"on"}0')
    await screenshot(page, 'dpop-alice-signed-in')
    expect(alice.errors).toEqual([])
  })

  it('adds, lists and deletes messages and reads /api/me with a fresh proof per request', async () => {
    const { page } = alice
    await page.getByLabel('New message').fill('bound to my key')
    await button(page, 'Add message').click()
    await eventually(() => messageStatus(page)).toBe('1 message.')
    expect(await page.getByRole('list', { name: 'Messages' }).locator('.message-text').allTextContents()).toEqual(['bound to my key'])
    await page.getByRole('button', { name: 'Delete message: bound to my key' }).click()
    await eventually(() => messageStatus(page)).toBe('No messages yet.')

    await button(page, 'Send access token to API').click()
    await eventually(() => page.locator('#api-result').getAttribute('data-status')).toBe('200')
    expect(JSON.parse((await page.locator('#api-result-body').textContent()) ?? '')).toMatchObject({
      sub: stack.users.find((user) => user.username === 'alice')?.sub,
      scopes: expect.arrayContaining(['read:messages', 'write:messages'])
    })

    await alice.settled()
    const calls = alice.api.filter((sent) => sent.authorization?.startsWith('DPoP '))
    expect(calls.map((sent) => `${sent.method} ${sent.path.replace(/^\/api\/messages\/.+$/, '/api/messages/:id')} ${sent.status}`)).toEqual(
      expect.arrayContaining(['POST /api/messages 201', 'DELETE /api/messages/:id 204', 'GET /api/messages 200', 'GET /api/me 200'])
    )
    // every request its own proof: method and URL of that request, a jti never used before
    const jtis = calls.map((sent) => decodeJwt(sent.dpop ?? '').jti)
    expect(new Set(jtis).size).toBe(calls.length)
    for (const sent of calls) {
      expect(decodeJwt(sent.dpop ?? '')).toMatchObject({ htm: sent.method, htu: `${stack.apiUrl}${sent.path}` })
    }
    expect(await page.locator('#dpop-last-request').textContent()).toBe('GET /api/me')
    expect(alice.errors).toEqual([])
  })

  it('"Replay last request" sends the same Authorization and DPoP headers again; the API refuses it', async () => {
    const { page } = alice
    await alice.settled()
    const last = alice.api.at(-1)
    expect(last).toMatchObject({ method: 'GET', path: '/api/me', status: 200 })

    const replayed = page.waitForResponse(
      (response) => response.url() === `${stack.apiUrl}/api/me` && response.request().method() === 'GET'
    )
    await button(page, 'Replay last request').click()
    const response = await replayed
    const sent = await response.request().allHeaders()
    expect(sent['authorization']).toBe(last?.authorization)
    expect(sent['dpop']).toBe(last?.dpop)
    expect(response.status()).toBe(401)
    expect(await response.headerValue('www-authenticate')).toMatch(/^DPoP algs="[^"]*ES256[^"]*", error="invalid_dpop_proof"/)
    expect(await response.json()).toMatchObject({ status: 401, code: 'ERR_DPOP_PROOF_REPLAYED' })

    await eventually(() => page.locator('#replay-result').getAttribute('data-status')).toBe('401')
    expect(await page.locator('#replay-result-line').textContent()).toBe('Replayed GET /api/me → 401 Unauthorized')
    expect(await page.locator('#replay-result-code').textContent()).toBe('ERR_DPOP_PROOF_REPLAYED')
    expect(await page.locator('#replay-result-description').textContent()).toMatch(/^invalid_dpop_proof: \S/)
    await screenshot(page, 'dpop-replay-refused')

    // the page goes on working: the next request has a proof of its own
    const next = page.waitForResponse((response) => response.url() === `${stack.apiUrl}/api/me` && response.request().method() === 'GET')
    await button(page, 'Send access token to API').click()
    expect((await next).status()).toBe(200)
    await alice.settled()
    expect(alice.api.filter((each) => each.path === '/api/me').map((each) => each.status)).toEqual([200, 401, 200])
    expect(alice.errors).toEqual([])
  })

  it('a token taken from the page is useless as a Bearer token or with a proof by another key', async () => {
    await alice.settled()
    const token = alice.api.at(-1)?.authorization?.replace(/^DPoP /, '') ?? ''
    const asBearer = await fetch(`${stack.apiUrl}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(asBearer.status).toBe(401)
    expect(((await asBearer.json()) as { code: string }).code).toBe('ERR_TOKEN_SENDER_CONSTRAINED')

    // a thief's own key (the `dpop` package, outside the browser): the proof is fine, the key is not the token's
    const thief = await generateKeyPair('ES256')
    const proof = await generateProof(thief, `${stack.apiUrl}/api/me`, 'GET', undefined, token)
    const withOtherKey = await fetch(`${stack.apiUrl}/api/me`, { headers: { authorization: `DPoP ${token}`, dpop: proof } })
    expect(withOtherKey.status).toBe(401)
    expect(((await withOtherKey.json()) as { code: string }).code).toBe('ERR_DPOP_KEY_MISMATCH')
  })

  it('logging out forgets the key; the switch stays on for the next log-in', async () => {
    const { page } = alice
    await button(page, 'Log out').click()
    await button(page, 'Log in').waitFor()
    expect(await page.locator('#dpop').isVisible()).toBe(false)
    expect(await page.locator('#dpop-thumbprint').textContent()).toBe('')
    expect(await page.getByRole('checkbox', { name: /Use DPoP/ }).isChecked()).toBe(true)
    await page.reload()
    await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' })
    expect(await page.getByRole('checkbox', { name: /Use DPoP/ }).isChecked()).toBe(true)
    await page.getByRole('checkbox', { name: /Use DPoP/ }).uncheck()
    expect(await page.evaluate('sessionStorage.length + localStorage.length')).toBe(0)
    expect(alice.errors).toEqual([])
  })
})

describe('demo SPA in DPoP mode with server nonces and short-lived tokens, in Chromium', () => {
  let stack: DevStack
  let browser: Browser
  let session: Session | undefined

  beforeAll(async () => {
    // shorter than the SPA's 30 s refresh margin: every API call refreshes first, with a proof
    ;[stack, browser] = await Promise.all([
      startDevStack({ apiPort: 0, issuerPort: 0, spaPort: 0, logger: false, accessTokenTtl: 20, dpopNonce: true }),
      launchChromium()
    ])
  })

  afterAll(async () => {
    await session?.context.close()
    await browser?.close()
    await stack?.close()
  })

  it('gets nonces from the issuer and the API, refreshes with the same key, and keeps cnf.jkt', async () => {
    session = await openSession(browser, stack)
    const { page } = session
    await logIn(page, stack, 'bob', 'bob')
    await eventually(() => messageStatus(page)).toBe('No messages yet.')
    await page.getByLabel('New message').fill('nonce and refresh')
    await button(page, 'Add message').click()
    await eventually(() => messageStatus(page)).toBe('1 message.')
    await session.settled()
    const { tokenRequests, api } = session

    // the issuer asked for its nonce first (use_dpop_nonce), then bound the token
    expect(tokenRequests[0]).toMatchObject({ grantType: 'authorization_code', status: 400 })
    const exchanged = tokenRequests.find((request) => request.status === 200)
    expect(exchanged).toMatchObject({ grantType: 'authorization_code', tokenType: 'DPoP' })
    expect(decodeJwt(exchanged?.dpop ?? '').nonce).toEqual(expect.any(String))
    const keyThumbprint = await proofKeyThumbprint(exchanged?.dpop ?? '')

    // every refresh: a proof by the same key, a token bound to the same key
    const refreshed = tokenRequests.filter((request) => request.grantType === 'refresh_token' && request.status === 200)
    expect(refreshed.length).toBeGreaterThan(0)
    for (const request of refreshed) {
      expect(request.tokenType).toBe('DPoP')
      expect(await proofKeyThumbprint(request.dpop ?? '')).toBe(keyThumbprint)
      expect((decodeJwt(request.accessToken ?? '').cnf as { jkt?: string }).jkt).toBe(keyThumbprint)
    }
    // the API asked for its nonce once (401 use_dpop_nonce), and the retried proof carried it
    const first = api.find((sent) => sent.authorization?.startsWith('DPoP '))
    expect(first?.status).toBe(401)
    expect(decodeJwt(first?.dpop ?? '').nonce).toBeUndefined()
    const accepted = api.filter((sent) => sent.status < 300)
    expect(accepted.length).toBeGreaterThan(1)
    for (const sent of accepted) expect(decodeJwt(sent.dpop ?? '').nonce).toEqual(expect.any(String))
    expect(await page.locator('#dpop-cnf-jkt').textContent()).toBe(keyThumbprint)
    expect(await page.locator('#dpop-match').textContent()).toBe('= this key')

    // a replay is refused here too (with a nonce the proof is still single-use)
    await button(page, 'Replay last request').click()
    await eventually(() => page.locator('#replay-result-code').textContent()).toBe('ERR_DPOP_PROOF_REPLAYED')
    // the one error on the console is the issuer's 400 use_dpop_nonce, which the SPA answered with a retry
    expect(session.errors).toEqual([expect.stringMatching(new RegExp(`status of 400 .*\\(${stack.tokenEndpoint}\\)$`))])
  })
})
