import { Type, type Static } from 'typebox'
import { PROBLEM_CODES } from '../http/problem.js'

const CODE_DESCRIPTION = [
  'Stable reason code: clients switch on it, never on `detail`. A later version may add codes: treat an unknown one by its `status`.',
  '',
  '| code | status | title |',
  '| --- | --- | --- |',
  ...PROBLEM_CODES.map(({ code, status, title }) => `| \`${code}\` | ${status} | ${title} |`)
].join('\n')

export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'A URI reference that identifies the problem type', examples: ['https://www.rfc-editor.org/rfc/rfc6750#section-3.1'] }),
  title: Type.String({ examples: ['Invalid access token'] }),
  status: Type.Integer({ minimum: 400, maximum: 599, examples: [401] }),
  detail: Type.String({ examples: ['The access token has expired.'] }),
  code: Type.String({ pattern: '^ERR_[A-Z0-9_]+$', description: CODE_DESCRIPTION, examples: ['ERR_JWT_EXPIRED'] }),
  instance: Type.Optional(Type.String())
}, { $id: 'Problem', title: 'Problem', description: 'RFC 9457 problem details' })

export type ProblemBody = Static<typeof ProblemSchema>
