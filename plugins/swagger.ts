/**
 * The OpenAPI 3.1 document (@fastify/swagger) and `GET /openapi.json`. This file only wires:
 * what the document says, and how it is built from the routes' own declarations, is in
 * src/openapi/ (document.ts: the document as a whole; operation.ts: one route as one operation;
 * error-responses.ts: the errors a route can answer; headers.ts, problems.ts: shared parts).
 * The served document carries the issuer's own oauth2 URLs once its metadata is known; with
 * several issuers (`issuers`), one oauth2 scheme per issuer, each with its own URLs. Route
 * plugins say what their tags mean with `app.describeTag` (decorated here), beside their routes.
 */
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import {
  componentsOf,
  documentBase,
  type AcceptedSchemes,
  finishDocument,
  flowUrlsOf,
  oauth2SchemeNames,
  withFlowUrls,
  type OAuthFlowUrls,
  type OpenApiDocument
} from '../src/openapi/document.js'
import { describeOperation } from '../src/openapi/operation.js'

export type { OpenApiDocument } from '../src/openapi/document.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The OpenAPI document as served: each oauth2 scheme's URLs are its issuer's once its metadata is known. */
    openapiDocument(): Promise<OpenApiDocument>
    /**
     * Says what an OpenAPI tag means, in the plugin whose routes use it (`schema: { tags: [name] }`),
     * as `describeScopes` does for scopes: the document lists the tags its operations use, each
     * with its description; a tag used and never described stops the document.
     */
    describeTag(name: string, description: string): void
  }
}

/** An issuer with an oauth2 scheme in the document. */
export interface DocumentedIssuer {
  /** The issuer identifier (the placeholder URLs derive from it). */
  issuer: string
  /** Its discovery metadata (from its key store; undefined while it cannot be discovered). */
  metadata?: () => Promise<object | undefined>
}

export interface SwaggerPluginOptions {
  /** The configured issuer (AUTH_ISSUER); ignored when `issuers` is given. */
  issuer: string
  /** The schemes the API accepts (AUTH_DPOP); default Bearer only. */
  schemes?: AcceptedSchemes
  /** The issuer's discovery metadata (from the key store; undefined while it cannot be discovered). */
  issuerMetadata?: () => Promise<object | undefined>
  /**
   * Several issuers, one oauth2 scheme each (`oauth2`, `oauth2_2`… in this order); replaces
   * `issuer` and `issuerMetadata`. An empty list leaves the document without oauth2 schemes.
   */
  issuers?: readonly DocumentedIssuer[]
  /** How long a request for the document waits for the issuer's metadata (ms). */
  metadataTimeoutMs?: number
}

function timeout(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref())
}

async function swaggerPlugin(app: FastifyInstance, options: SwaggerPluginOptions): Promise<void> {
  const tags = new Map<string, string>()
  app.decorate('describeTag', (name: string, description: string) => {
    const known = tags.get(name)
    if (known !== undefined && known !== description) throw new Error(`tag ${name} is described twice, differently`)
    tags.set(name, description)
  })

  const schemes = options.schemes ?? { bearer: true, dpop: false }
  const issuers: readonly DocumentedIssuer[] = options.issuers ?? [
    { issuer: options.issuer, ...(options.issuerMetadata === undefined ? {} : { metadata: options.issuerMetadata }) }
  ]
  const schemeNames = oauth2SchemeNames(issuers.length)
  await app.register(swagger, {
    openapi: documentBase(
      issuers.map(({ issuer }) => issuer),
      schemes
    ),
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url, route, ...rest }) => {
      const openapiObject = ('openapiObject' in rest ? rest.openapiObject : {}) as Record<string, unknown>
      const declaration = {
        method: route.method,
        url,
        public: route.config?.public === true,
        scopes: route.config?.scopes ?? [],
        schema: schema as Record<string, unknown> | undefined
      }
      return { schema: describeOperation(declaration, componentsOf(openapiObject), schemes, schemeNames), url }
    },
    transformObject: (documentObject) => {
      const document = 'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject
      const described = new Map(app.hasDecorator('scopes') ? app.scopes().map((scope) => [scope.name, scope.description]) : [])
      return finishDocument(
        document as unknown as OpenApiDocument,
        (scope) => described.get(scope),
        (tag) => tags.get(tag)
      ) as unknown as typeof document
    }
  })

  // each issuer's URLs, kept once known; asked again (in parallel, bounded by the timeout) while not
  const known = new Map<string, OAuthFlowUrls>()
  async function flowUrls(): Promise<Record<string, OAuthFlowUrls>> {
    await Promise.all(
      issuers.map(async ({ metadata }, index) => {
        const name = schemeNames[index]
        if (name === undefined || known.has(name) || metadata === undefined) return
        const urls = flowUrlsOf(await Promise.race([metadata().catch(() => undefined), timeout(options.metadataTimeoutMs ?? 2000)]))
        if (urls !== undefined) known.set(name, urls)
      })
    )
    return Object.fromEntries(known)
  }

  app.decorate('openapiDocument', async function openapiDocument(): Promise<OpenApiDocument> {
    const document = app.swagger() as unknown as OpenApiDocument
    const urls = await flowUrls()
    return Object.keys(urls).length === 0 ? document : withFlowUrls(document, urls)
  })

  app.get(
    '/openapi.json',
    {
      config: { public: true },
      schema: { hide: true }
    },
    async (_request, reply) => {
      reply.header('cache-control', 'no-cache')
      return app.openapiDocument()
    }
  )
}

export default fp(swaggerPlugin, { name: 'swagger', fastify: '5.x' })
