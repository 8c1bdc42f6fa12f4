import { Type, type Static } from 'typebox'

export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'A URI reference that identifies the problem type', examples: ['https://www.rfc-editor.org/rfc/rfc6750#section-3.1'] }),
  title: Type.String({ examples: ['Invalid access token'] }),
  status: Type.Integer({ minimum: 400, maximum: 599, examples: [401] }),
  detail: Type.String({ examples: ['The access token has expired.'] }),
  code: Type.Optional(Type.String({ description: 'Stable reason code (ERR_…)', examples: ['ERR_JWT_EXPIRED'] })),
  instance: Type.Optional(Type.String())
}, { $id: 'Problem', title: 'Problem', description: 'RFC 9457 problem details' })

export type ProblemBody = Static<typeof ProblemSchema>
