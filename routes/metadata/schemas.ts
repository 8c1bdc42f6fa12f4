import { Type } from 'typebox'

export const ProtectedResourceMetadataSchema = Type.Object(
  {
    resource: Type.String(),
    authorization_servers: Type.Array(Type.String()),
    scopes_supported: Type.Array(Type.String()),
    bearer_methods_supported: Type.Array(Type.String()),
    resource_name: Type.Optional(Type.String()),
    resource_documentation: Type.Optional(Type.String())
  },
  { $id: 'ProtectedResourceMetadata', title: 'ProtectedResourceMetadata' }
)
