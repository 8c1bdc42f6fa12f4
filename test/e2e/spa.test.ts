// The demo SPA in a real browser, against the real development issuer and API (the same start-up
// as `npm run dev`, on free ports): log in, read the ID token, use the access token, send the
// wrong token, log out. A screenshot of each step goes to test-results/e2e/.
import { randomUUID } from 'node:crypto'

import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { startDevStack } from '../../dev/dev.js'
import type { DevStack } from '../../dev/dev.js'
import { launchChromium, openPage, resetScreenshots, screenshot } from './browser.js'

interface Session {
  context: BrowserContext
  page: Page
  errors: string[]
}

/** Polls until the value matches; generous, because a loaded CI machine can be slow. */
const eventually = <T>(value: () => Promise<T>) => expect.poll(value, { timeout: 15_000, interval: 50 })
const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true })
const claim = (page: Page, table: string, name: string) => page.getByRole('table', { name: table }).locator(`tr[data-claim="${name}"] td`)

describe('demo SPA in Chromium', () => {
  let stack: DevStack
  let browser: Browser
  const sessions: Session[] = []
  let alice: Session
  const aliceMessage = `Alice's note ${randomUUID().slice(0, 8)}`

  beforeAll(async () => {
    await resetScreenshots()
    ;[stack, browser] = await Promise.all([startDevStack({ apiPort: 0, issuerPort: 0, spaPort: 0, logger: false }), launchChromium()])
  })

  afterAll(async () => {
    await Promise.all(sessions.map((session) => session.context.close()))
    await browser?.close()
    await stack?.close()
  })

  async function newSession(): Promise<Session> {
    const session = await openPage(browser)
    sessions.push(session)
    return session
  }

  /** From the SPA's "Log in" through the issuer's sign-in page and back, signed in. */
  async function logIn(page: Page, username: string, password: string): Promise<void> {
    await page.goto(stack.spaUrl)
    await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' })
    await button(page, 'Log in').click()
    await page.waitForURL((url) => url.origin === stack.issuerUrl && url.pathname.startsWith('/interaction/'))
    await page.getByLabel('Username').fill(username)
    await page.getByLabel('Password').fill(password)
    await screenshot(page, `${username}-issuer-sign-in`)
    await button(page, 'Sign in').click()
    await button(page, 'Log out').waitFor()
    expect(new URL(page.url()).pathname).toBe('/')
  }

  async function messageTexts(page: Page): Promise<string[]> {
    await page
      .locator('#messages-status')
      .filter({ hasText: /message/ })
      .waitFor()
    return page.getByRole('list', { name: 'Messages' }).locator('.message-text').allTextContents()
  }

  it('alice logs in, sees her name from the ID token, adds a message and sees it', async () => {
    alice = await newSession()
    const { page } = alice
    await page.goto(stack.spaUrl)
    await button(page, 'Log in').waitFor()
    expect(await button(page, 'Log out').isVisible()).toBe(false)
    await screenshot(page, 'signed-out')

    await logIn(page, 'alice', 'alice')
    await eventually(() => page.locator('#user-name').textContent()).toBe('Alice Liddell')
    expect(await page.locator('#user-email').textContent()).toBe('alice@example.com')
    // both tokens decoded side by side, each with its one-line explanation
    await page.getByRole('heading', { name: 'ID token — who you are, for this app' }).waitFor()
    await page.getByRole('heading', { name: 'Access token — what this app may do at the API' }).waitFor()
    expect(await claim(page, 'ID token claims', 'name').textContent()).toBe('Alice Liddell')
    expect(await claim(page, 'ID token claims', 'aud').textContent()).toBe(stack.spaClientId)
    expect(await claim(page, 'Access token claims', 'aud').textContent()).toBe(stack.audience)
    expect(await claim(page, 'Access token claims', 'scope').textContent()).toContain('write:messages')
    expect(await messageTexts(page)).toEqual([])
    await screenshot(page, 'alice-signed-in')

    await page.getByLabel('New message').fill(aliceMessage)
    await button(page, 'Add message').click()
    await eventually(() => messageTexts(page)).toEqual([aliceMessage])
    await screenshot(page, 'alice-added-a-message')
    // tokens live in memory only
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0)
    expect(alice.errors).toEqual([])
  })

  it("bob logs in in another browser context and does not see alice's message", async () => {
    const bob = await newSession()
    const { page } = bob
    await logIn(page, 'bob', 'bob')
    await eventually(() => page.locator('#user-name').textContent()).toBe('Bob Builder')
    expect(await page.locator('#user-email').textContent()).toBe('bob@example.com')
    expect(await messageTexts(page)).toEqual([])
    expect(await page.content()).not.toContain(aliceMessage)

    const bobMessage = 'Bob was here'
    await page.getByLabel('New message').fill(bobMessage)
    await button(page, 'Add message').click()
    await eventually(() => messageTexts(page)).toEqual([bobMessage])
    await screenshot(page, 'bob-signed-in-with-his-own-message')

    await page.getByRole('button', { name: `Delete message: ${bobMessage}` }).click()
    await eventually(() => messageTexts(page)).toEqual([])
    await screenshot(page, 'bob-deleted-his-message')
    expect(bob.errors).toEqual([])
  })

  it('"Send ID token to API" shows 401 and the API\'s explanation; the access token gets 200', async () => {
    const { page } = alice
    const refusal = page.waitForResponse((response) => response.url() === `${stack.apiUrl}/api/me` && response.request().method() === 'GET')
    await button(page, 'Send ID token to API').click()
    const response = await refusal
    expect(response.status()).toBe(401)
    const challenge = (await response.headerValue('www-authenticate')) ?? ''
    expect(challenge).toMatch(/^Bearer .*error="invalid_token"/)
    const apiDescription = /error_description="((?:[^"\\]|\\.)*)"/.exec(challenge)?.[1]?.replace(/\\(.)/g, '$1')
    expect(apiDescription).toBeTruthy()

    const result = page.locator('#api-result')
    await eventually(() => result.getAttribute('data-status')).toBe('401')
    expect(await page.locator('#api-result-line').textContent()).toMatch(/ID token → 401 Unauthorized/)
    // the API's own words, as it sent them in WWW-Authenticate
    expect(await page.locator('#api-result-description').textContent()).toBe(`invalid_token: ${apiDescription}`)
    // and why, in the seeds' terms: the badge is for this app
    expect(await page.locator('#api-result-why').textContent()).toContain(`aud "${stack.spaClientId}"`)
    await screenshot(page, 'id-token-refused-by-the-api')

    await button(page, 'Send access token to API').click()
    await eventually(() => result.getAttribute('data-status')).toBe('200')
    expect(await page.locator('#api-result-body').textContent()).toContain('"scopes"')
    await screenshot(page, 'access-token-accepted-by-the-api')
    expect(alice.errors).toEqual([])
  })

  it('logging out clears the user and the tokens', async () => {
    const { page } = alice
    await button(page, 'Log out').click()
    await button(page, 'Log in').waitFor()
    expect(await button(page, 'Log out').isVisible()).toBe(false)
    expect(await page.locator('#user').isVisible()).toBe(false)
    expect(await page.locator('#user-name').textContent()).toBe('')
    expect(await page.getByRole('table', { name: 'ID token claims' }).locator('tr').count()).toBe(0)
    expect(await page.getByRole('table', { name: 'Access token claims' }).locator('tr').count()).toBe(0)
    expect(await page.getByRole('list', { name: 'Messages' }).locator('li').count()).toBe(0)
    const html = await page.content()
    expect(html).not.toContain('Alice Liddell')
    expect(html).not.toContain(aliceMessage)
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0)
    await screenshot(page, 'alice-logged-out')

    // nothing survives a reload either: the tokens were in memory only
    await page.reload()
    await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' })
    expect(await button(page, 'Log in').isVisible()).toBe(true)
    expect(alice.errors).toEqual([])
  })
})
