// /docs in a real browser (Debian's Chromium through playwright-core, in `npm run test:e2e`), with every request that leaves loopback refused as if there were no internet:
// the page renders every operation, and "Authorize" signs in at the development issuer
// (authorization code + PKCE, client demo-spa) so that "Try it out" gets a 200 from /api/me.
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DOCS_OAUTH_REDIRECT_PATH } from '../../plugins/docs.js'
import { freePort } from '../../scripts/free-port.js'
import { startDevIssuerApi, type DevIssuerApi } from '../helpers/dev-issuer-api.js'
import { launchChromium } from './browser.js'

const HOST = '127.0.0.1'

describe('/docs in a browser with no internet', () => {
  let dev: DevIssuerApi
  let issuer: DevIssuerApi['issuer']
  let browser: Browser
  let origin: string
  const offline: string[] = []
  const requests: string[] = []
  const errors: string[] = []

  beforeAll(async () => {
    const port = await freePort()
    origin = `http://${HOST}:${port}`
    // the issuer lets the viewer's redirect page receive the code, and its origin redeem it
    dev = await startDevIssuerApi({
      issuer: { audience: origin, spa: { redirectUris: [`${origin}${DOCS_OAUTH_REDIRECT_PATH}`], origins: [origin] } },
      env: { DOCS_OAUTH_CLIENT_ID: 'demo-spa' },
      listen: port
    })
    issuer = dev.issuer
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await dev?.close()
  })

  async function open(): Promise<Page> {
    const context = await browser.newContext()
    context.setDefaultTimeout(15_000)
    await context.route('**/*', async (route) => {
      const url = new URL(route.request().url())
      requests.push(url.href)
      if (url.hostname === HOST) return route.continue()
      offline.push(url.href)
      return route.abort('internetdisconnected')
    })
    context.on('page', (page) => {
      page.on('pageerror', (error) => errors.push(error.message))
      page.on('console', (message) => {
        if (message.type() === 'error' && !/status of 401/.test(message.text())) errors.push(message.text())
      })
    })
    const page = await context.newPage()
    await page.goto(`${origin}/docs`)
    return page
  }

  it('renders every operation of the document from local assets only', async () => {
    const page = await open()
    await page.locator('.opblock').first().waitFor()
    const operationIds = await page.locator('.opblock').evaluateAll((blocks) => blocks.map((block) => block.id))
    expect(operationIds.sort()).toEqual([
      'operations-health-getLiveness',
      'operations-health-getReadiness',
      'operations-me-getMe',
      'operations-messages-createMessage',
      'operations-messages-deleteMessage',
      'operations-messages-getMessage',
      'operations-messages-listMessages',
      'operations-metadata-getProtectedResourceMetadata'
    ])
    expect(offline).toEqual([])
    expect(errors).toEqual([])
    await page.context().close()
  })

  it('"Authorize" signs in at the development issuer with PKCE, and "Try it out" then gets a 200', async () => {
    const page = await open()
    await page.locator('button.authorize').first().click()
    const oauth2 = page.locator('.auth-container', { hasText: 'oauth2' })
    await expect
      .poll(() => oauth2.locator('input#client_id_authorizationCode, input[data-name="clientId"]').first().inputValue())
      .toBe('demo-spa')
    await oauth2.getByText('select all', { exact: true }).click()
    await expect.poll(() => oauth2.locator('input[type="checkbox"]:checked').count()).toBe(2)

    const [popup] = await Promise.all([page.context().waitForEvent('page'), oauth2.locator('button.authorize').click()])
    await popup.waitForLoadState()
    expect(new URL(popup.url()).origin).toBe(issuer.issuer)
    const authorization = new URL(requests.find((url) => url.startsWith(`${issuer.authorizationEndpoint}?`)) ?? 'http://none')
    expect(Object.fromEntries(authorization.searchParams)).toMatchObject({
      client_id: 'demo-spa',
      response_type: 'code',
      redirect_uri: `${origin}${DOCS_OAUTH_REDIRECT_PATH}`,
      code_challenge_method: 'S256',
      code_challenge: expect.stringMatching(/^[\w-]{43}$/)
    })
    await popup.locator('#username').fill('alice')
    await popup.locator('#password').fill('alice')
    await popup.getByRole('button', { name: 'Sign in' }).click()
    await popup.waitForEvent('close')

    await oauth2.locator('button', { hasText: 'Logout' }).waitFor()
    await page.locator('.modal-ux button.close-modal').click()

    const me = page.locator('#operations-me-getMe')
    await me.locator('.opblock-summary').click()
    await me.locator('button.try-out__btn').click()
    await me.locator('button.execute').click()
    const answer = me.locator('.live-responses-table tbody tr.response')
    await expect.poll(() => answer.locator('td.response-col_status').textContent()).toMatch(/^\s*200\s*$/)
    const body = await answer.locator('td.response-col_description pre').first().textContent()
    expect(JSON.parse(body ?? '{}')).toMatchObject({
      sub: expect.any(String),
      scopes: ['read:messages', 'write:messages'],
      issuer: issuer.issuer
    })
    expect(offline).toEqual([])
    expect(errors).toEqual([])
    await page.context().close()
  })
})
