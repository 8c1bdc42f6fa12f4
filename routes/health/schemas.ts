import { Type } from 'typebox'

export const HealthSchema = Type.Object(
  {
    status: Type.String({ examples: ['ok'] }),
    keys: Type.Optional(Type.Integer({ description: 'Signing keys held' }))
  },
  { $id: 'Health', title: 'Health' }
)
