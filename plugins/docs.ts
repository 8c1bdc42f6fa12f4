/**
 * `/docs`: Swagger UI (@fastify/swagger-ui) showing the served OpenAPI document, with every
 * asset served by the app itself (no CDN, no validator badge) and a Content-Security-Policy
 * that keeps it so. Its "Authorize" runs the authorization code flow with PKCE for a public
 * client: DOCS_OAUTH_CLIENT_ID (the development issuer's `demo-spa` by default with it), with
 * DOCS_OAUTH_PARAMS added to the authorization request (Auth0 needs `audience`); the issuer must accept
 * `{origin}/docs/static/oauth2-redirect.html` as that client's redirect URI and `{origin}`
 * for CORS at its token endpoint.
 *
 * Not wrapped with fastify-plugin: the hook that makes these routes public stays inside.
 */
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import type { OpenApiDocument } from './swagger.js'

export const DOCS_PREFIX = '/docs'
/** Where Swagger UI sends the browser back after sign-in, relative to the app's origin. */
export const DOCS_OAUTH_REDIRECT_PATH = `${DOCS_PREFIX}/static/oauth2-redirect.html`

/** Scripts and styles from the app only; connections anywhere (the issuer's token endpoint). */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  'connect-src *',
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'"
].join('; ')

export default async function docs(app: FastifyInstance): Promise<void> {
  const { clientId, authorizationParams } = app.config.docs
  // every route of the viewer (page, assets, its copy of the document) answers without a token
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, public: true }
  })

  let document: OpenApiDocument | undefined
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: CSP,
    validatorUrl: false,
    uiConfig: {
      deepLinking: true,
      displayOperationId: true,
      defaultModelsExpandDepth: 1,
      persistAuthorization: false
    },
    // DOCS_OAUTH_CLIENT_ID / DOCS_OAUTH_PARAMS (the development issuer: its demo-spa client)
    initOAuth: {
      ...(clientId === undefined ? {} : { clientId }),
      appName: 'Resource API',
      usePkceWithAuthorizationCodeGrant: true,
      additionalQueryStringParams: authorizationParams
    },
    theme: { title: 'Resource API' },
    // the viewer's /docs/json is the served document, with the issuer's own OAuth endpoints
    uiHooks: {
      onRequest: async (request) => {
        if (/\/(json|yaml)$/.test(request.url.split('?')[0] ?? '')) document = await app.openapiDocument()
      }
    },
    transformSpecificationClone: false,
    transformSpecification: (specification) => document ?? specification
  })
}
