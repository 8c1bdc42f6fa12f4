// The SPA renews a short-lived access token with its refresh token (rotated by the issuer) before
// calling the API, and keeps the same ID token and user.
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { startDevStack } from '../../dev/dev.js'
import type { DevStack } from '../../dev/dev.js'
import { launchChromium, openPage } from './browser.js'

describe('demo SPA with short-lived access tokens', () => {
  let stack: DevStack
  let browser: Browser

  beforeAll(async () => {
    // shorter than the SPA's 30 s refresh margin: every API call refreshes first
    ;[stack, browser] = await Promise.all([
      startDevStack({ apiPort: 0, issuerPort: 0, spaPort: 0, logger: false, accessTokenTtl: 20 }),
      launchChromium()
    ])
  })

  afterAll(async () => {
    await browser?.close()
    await stack?.close()
  })

  it('refreshes the access token before an API call and goes on working', async () => {
    const { context, page, errors } = await openPage(browser)
    const jti = () => page.getByRole('table', { name: 'Access token claims' }).locator('tr[data-claim="jti"] td').textContent()
    const grants: string[] = []
    page.on('request', (request) => {
      if (request.url() === `${stack.issuerUrl}/token`) grants.push(new URLSearchParams(request.postData() ?? '').get('grant_type') ?? '')
    })

    await page.goto(stack.spaUrl)
    await page.getByRole('button', { name: 'Log in', exact: true }).click()
    await page.getByLabel('Username').fill('alice')
    await page.getByLabel('Password').fill('alice')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: 'Log out', exact: true }).waitFor()
    await expect.poll(() => page.locator('#messages-status').textContent(), { timeout: 15_000 }).toBe('No messages yet.')
    const first = await jti()

    await page.getByLabel('New message').fill('after a refresh')
    await page.getByRole('button', { name: 'Add message', exact: true }).click()
    await expect.poll(() => page.locator('#messages-status').textContent(), { timeout: 15_000 }).toBe('1 message.')
    expect(await jti()).not.toBe(first)
    expect(grants[0]).toBe('authorization_code')
    expect(grants.slice(1).every((grant) => grant === 'refresh_token')).toBe(true)
    expect(grants.length).toBeGreaterThan(1)
    expect(await page.locator('#user-name').textContent()).toBe('Alice Liddell')
    expect(errors).toEqual([])
    await context.close()
  })
})
