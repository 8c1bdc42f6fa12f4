// /docs works with no internet: the page and every script, style and image it loads come from the
// app itself, a Content-Security-Policy keeps it so, it shows the served document, its
// "Authorize" is set up for the development issuer's public client with PKCE, and it needs no token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

/** The src and href attributes of a page. */
function references(html: string): string[] {
  return [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((match) => match[1] ?? '')
}

describe('/docs', () => {
  let api: TestApi
  // as the development stack configures it (npm run dev, DEV_ISSUER=1)
  beforeAll(async () => {
    api = await startTestApi({ env: { DOCS_OAUTH_CLIENT_ID: 'demo-spa' } })
  })
  afterAll(async () => {
    await api.close()
  })

  it('serves the page and each of its assets from the app, without a token', async () => {
    for (const url of ['/docs', '/docs/']) {
      const page = await api.app.inject({ url })
      expect(page.statusCode, url).toBe(200)
      expect(page.headers['content-type']).toMatch(/^text\/html/)

      const assets = references(page.body)
      expect(assets.length).toBeGreaterThanOrEqual(5)
      for (const asset of assets) {
        expect(asset, 'no absolute URL, no other host').not.toMatch(/^([a-z]+:)?\/\//i)
        const res = await api.app.inject({ url: new URL(asset, `http://localhost${url}`).pathname })
        expect(res.statusCode, asset).toBe(200)
        expect(res.headers['content-type'], asset).toMatch(/javascript|css|image\//)
        if (/\.(js|css)$/.test(asset)) {
          // no stylesheet, font or script pulled from a CDN at run time
          expect(res.body, asset).not.toMatch(/(unpkg\.com|jsdelivr\.net|cdnjs|fonts\.googleapis\.com|fonts\.gstatic\.com)/)
        }
      }
    }
  })

  it('restricts scripts, styles and images to the app with a Content-Security-Policy', async () => {
    for (const url of ['/docs', '/docs/static/swagger-ui-bundle.js', '/docs/static/oauth2-redirect.html']) {
      const csp = String((await api.app.inject({ url })).headers['content-security-policy'])
      expect(csp, url).toMatch(/default-src 'self'/)
      expect(csp, url).toMatch(/script-src 'self'(;|$)/)
      expect(csp, url).toMatch(/img-src 'self' data:(;|$)/)
    }
  })

  it('sets up "Authorize" for the development issuer\'s public client with PKCE, and no outside validator', async () => {
    const initializer = await api.app.inject({ url: '/docs/static/swagger-initializer.js' })
    expect(initializer.statusCode).toBe(200)
    expect(initializer.body).toMatch(/"clientId":\s*"demo-spa"/)
    expect(initializer.body).toMatch(/"usePkceWithAuthorizationCodeGrant":\s*true/)
    expect(initializer.body).toMatch(/validatorUrl: null/)
    expect(initializer.body).toMatch(/oauth2RedirectUrl: resolveUrl\('\.\/static\/oauth2-redirect\.html'\)/)
    expect((await api.app.inject({ url: '/docs/static/oauth2-redirect.html' })).statusCode).toBe(200)
  })

  it("shows the served document, with the issuer's endpoints", async () => {
    const viewer = await api.app.inject({ url: '/docs/json' })
    const served = await api.app.inject({ url: '/openapi.json' })
    expect(viewer.statusCode).toBe(200)
    expect(viewer.json()).toEqual(served.json())
    expect(viewer.json()).toMatchObject({
      components: { securitySchemes: { oauth2: { flows: { authorizationCode: { authorizationUrl: `${api.issuer.url}/authorize` } } } } }
    })
  })
})

describe('/docs with a real provider', () => {
  it('takes its client id and extra authorization parameters from configuration (Auth0 needs audience)', async () => {
    const api = await startTestApi({
      env: { DOCS_OAUTH_CLIENT_ID: 'spa-at-auth0', DOCS_OAUTH_PARAMS: 'audience=https://api.example.test&prompt=login' }
    })
    try {
      const initializer = (await api.app.inject({ url: '/docs/static/swagger-initializer.js' })).body
      expect(initializer).toMatch(/"clientId":\s*"spa-at-auth0"/)
      expect(initializer).toMatch(
        /"additionalQueryStringParams":\s*\{\s*"audience":\s*"https:\/\/api\.example\.test",\s*"prompt":\s*"login"\s*\}/
      )
      expect(initializer).not.toContain('demo-spa')
    } finally {
      await api.close()
    }
  })

  it('with no client configured, names none (Swagger UI asks for one)', async () => {
    const api = await startTestApi()
    try {
      const initializer = (await api.app.inject({ url: '/docs/static/swagger-initializer.js' })).body
      expect(initializer).not.toMatch(/"clientId"/)
    } finally {
      await api.close()
    }
  })
})
