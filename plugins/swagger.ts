/**
 * The OpenAPI 3.1 document (@fastify/swagger) and `GET /openapi.json`. This file only wires:
 * what the document says, and how it is built from the routes' own declarations, is in
 * src/openapi/ (document.ts: the document as a whole; operation.ts: one route as one operation;
 * error-responses.ts: the errors a route can answer; headers.ts, problems.ts: shared parts).
 * The served document carries the issuer's own oauth2 URLs once its metadata is known. Route
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
  withFlowUrls,
  type OAuthFlowUrls,
  type OpenApiDocument
} from '../src/openapi/document.js'
import { describeOperation } from '../src/openapi/operation.js'

export type { OpenApiDocument } from '../src/openapi/document.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The OpenAPI document as served: the oauth2 URLs are the issuer's once its metadata is known. */
    openapiDocument(): Promise<OpenApiDocument>
    /**
     * Says what an OpenAPI tag means, in the plugin whose routes use it (`schema: { tags: [name] }`),
     * as `describeScopes` does for scopes: the document lists the tags its operations use, each
     * with its description; a tag used and never described stops the document.
     */
    describeTag(name: string, description: string): void
  }
}

export interface SwaggerPluginOptions {
  /** The configured issuer (AUTH_ISSUER). */
  issuer: string
  /** The schemes the API accepts (AUTH_DPOP); default Bearer only. */
  schemes?: AcceptedSchemes
  /** The issuer's discovery metadata (from the key store; undefined while it cannot be discovered). */
  issuerMetadata?: () => Promise<object | undefined>
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
  await app.register(swagger, {
    openapi: documentBase(options.issuer, schemes),
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
      return { schema: describeOperation(declaration, componentsOf(openapiObject), schemes), url }
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

  let issuerUrls: OAuthFlowUrls | undefined
  async function flowUrls(): Promise<OAuthFlowUrls | undefined> {
    if (issuerUrls !== undefined || options.issuerMetadata === undefined) return issuerUrls
    issuerUrls = flowUrlsOf(
      await Promise.race([options.issuerMetadata().catch(() => undefined), timeout(options.metadataTimeoutMs ?? 2000)])
    )
    return issuerUrls
  }

  app.decorate('openapiDocument', async function openapiDocument(): Promise<OpenApiDocument> {
    const document = app.swagger() as unknown as OpenApiDocument
    const urls = await flowUrls()
    return urls === undefined ? document : withFlowUrls(document, urls)
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
