/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728): how a client learns which issuer to ask
 * and which scopes exist, from the `resource_metadata` link in every Bearer challenge.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ProtectedResourceMetadataSchema } from '../src/schemas/health.js'

export interface MetadataRouteOptions {
  resource: string
  issuer: string
  /** Filled as routes are declared: read on each request. */
  scopes: ReadonlySet<string>
}

const protectedResourceMetadata: FastifyPluginAsyncTypebox<MetadataRouteOptions> = async (app, options) => {
  app.get('/.well-known/oauth-protected-resource', {
    config: { public: true },
    schema: {
      tags: ['metadata'],
      summary: 'Protected resource metadata (RFC 9728)',
      operationId: 'getProtectedResourceMetadata',
      response: { 200: ProtectedResourceMetadataSchema }
    }
  }, async (request, reply) => {
    reply.header('cache-control', 'public, max-age=3600')
    return {
      resource: options.resource,
      authorization_servers: [options.issuer],
      scopes_supported: [...options.scopes],
      bearer_methods_supported: ['header'],
      resource_name: 'Resource API',
      resource_documentation: `${request.protocol}://${request.host}/docs`
    }
  })
}

export default protectedResourceMetadata
