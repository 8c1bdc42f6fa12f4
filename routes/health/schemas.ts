import { Type } from 'typebox'

export const HealthSchema = Type.Object(
  {
    status: Type.String({ examples: ['ok'] }),
    keys: Type.Optional(Type.Integer({ description: 'Signing keys held' })),
    issuers: Type.Optional(
      Type.Array(
        Type.Object({
          issuer: Type.String({ description: 'The issuer (or issuer template) as configured' }),
          ready: Type.Boolean({ description: 'Its signing keys are loaded and fresh enough' }),
          keys: Type.Integer({ description: 'Its signing keys held' })
        }),
        { description: 'With several trusted issuers (AUTH_ISSUERS_FILE): each one, so that an outage of one shows' }
      )
    )
  },
  { $id: 'Health', title: 'Health' }
)
