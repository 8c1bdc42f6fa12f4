import { Type } from 'typebox'

export const HealthSchema = Type.Object({
  status: Type.String({ examples: ['ok'] }),
  keys: Type.Optional(Type.Integer({ description: 'Signing keys held' }))
}, { $id: 'Health', title: 'Health' })

export const ProtectedResourceMetadataSchema = Type.Object({
  resource: Type.String(),
  authorization_servers: Type.Array(Type.String()),
  scopes_supported: Type.Array(Type.String()),
  bearer_methods_supported: Type.Array(Type.String()),
  resource_name: Type.Optional(Type.String()),
  resource_documentation: Type.Optional(Type.String())
}, { $id: 'ProtectedResourceMetadata', title: 'ProtectedResourceMetadata' })
