import { Type, type Static } from 'typebox'

export const MeSchema = Type.Object({
  sub: Type.Union([Type.String(), Type.Null()], { description: 'The user (or, for client_credentials, the client) the token speaks for' }),
  clientId: Type.Union([Type.String(), Type.Null()], { description: 'The OAuth client the token was issued to' }),
  scopes: Type.Array(Type.String(), { examples: [['read:messages', 'write:messages']] }),
  issuer: Type.String({ examples: ['https://issuer.example.com/'] }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the access token expires' })
}, { $id: 'Me', title: 'Me', additionalProperties: false })

export type MeBody = Static<typeof MeSchema>
