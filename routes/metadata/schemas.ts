import { Type } from 'typebox'

export const ProtectedResourceMetadataSchema = Type.Object(
  {
    resource: Type.String(),
    authorization_servers: Type.Array(Type.String()),
    scopes_supported: Type.Array(Type.String()),
    bearer_methods_supported: Type.Array(Type.String()),
    dpop_signing_alg_values_supported: Type.Optional(
      Type.Array(Type.String(), { description: 'The DPoP proof algorithms accepted (RFC 9449); absent when DPoP is disabled.' })
    ),
    dpop_bound_access_tokens_required: Type.Optional(
      Type.Boolean({ description: 'true when only DPoP-bound access tokens are accepted (AUTH_DPOP=required).' })
    ),
    resource_name: Type.Optional(Type.String()),
    resource_documentation: Type.Optional(Type.String())
  },
  { $id: 'ProtectedResourceMetadata', title: 'ProtectedResourceMetadata' }
)
