/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728): how a client learns which issuer to ask
 * and which scopes exist, from the `resource_metadata` link in every Bearer challenge.
 * With DPoP accepted, it names the proof algorithms and whether only DPoP-bound tokens are
 * accepted (RFC 9449 §5.1 of RFC 9728's registry).
 * `resource` is the API's identifier (its first audience); the URLs it publishes start with
 * PUBLIC_URL (`app.publicUrl`, from plugins/problem-details.ts), never with the request's Host.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ProtectedResourceMetadataSchema } from './schemas.js'
import { fillTemplate } from '../../src/issuers/issuers-file.js'
import { DOCS_PREFIX } from '../../plugins/docs.js'
import { RESOURCE_METADATA_PATH } from '../../plugins/problem-details.js'

const protectedResourceMetadata: FastifyPluginAsyncTypebox = async (app) => {
  app.describeTag('metadata', 'OAuth 2.0 Protected Resource Metadata (RFC 9728): where to get a token, and which scopes exist.')
  const { auth } = app.config
  const { dpop } = auth
  // every trusted issuer; a template's listed tenants each (with "any tenant", the template names no one issuer)
  const authorizationServers = app.issuers.flatMap(({ issuer }) =>
    issuer.kind === 'exact'
      ? [issuer.issuer]
      : issuer.tenants === 'any'
        ? []
        : [...issuer.tenants].map((tenant) => fillTemplate(issuer.template, tenant))
  )
  const dpopMetadata =
    dpop.mode === 'disabled'
      ? {}
      : { dpop_signing_alg_values_supported: [...dpop.algorithms], dpop_bound_access_tokens_required: dpop.mode === 'required' }
  app.get(
    RESOURCE_METADATA_PATH,
    {
      config: { public: true },
      schema: {
        tags: ['metadata'],
        summary: 'Protected resource metadata (RFC 9728)',
        operationId: 'getProtectedResourceMetadata',
        response: { 200: ProtectedResourceMetadataSchema }
      }
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=3600')
      return {
        resource: auth.audiences[0] ?? '',
        authorization_servers: authorizationServers,
        scopes_supported: app.scopes().map((scope) => scope.name),
        bearer_methods_supported: ['header'],
        ...dpopMetadata,
        resource_name: 'Resource API',
        resource_documentation: `${app.publicUrl}${DOCS_PREFIX}`
      }
    }
  )
}

export default protectedResourceMetadata
