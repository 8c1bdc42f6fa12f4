import { Type, type Static } from 'typebox'
import { problem, PROBLEM_CODES } from '../http/problem.js'

const CODE_DESCRIPTION = [
  'Stable reason code: clients switch on it, never on `detail`. A later version may add codes: treat an unknown one by its `status`.',
  '',
  '| code | status | title |',
  '| --- | --- | --- |',
  ...PROBLEM_CODES.map(({ code, status, title }) => `| \`${code}\` | ${status} | ${title} |`)
].join('\n')

/** The example of every member: an expired token's problem, from the error catalogue. */
const EXAMPLE = problem('ERR_JWT_EXPIRED')

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'A URI reference that identifies the problem type', examples: [EXAMPLE.type] }),
    title: Type.String({ examples: [EXAMPLE.title] }),
    status: Type.Integer({ minimum: 400, maximum: 599, examples: [EXAMPLE.status] }),
    detail: Type.String({ examples: [EXAMPLE.detail] }),
    code: Type.String({ pattern: '^ERR_[A-Z0-9_]+$', description: CODE_DESCRIPTION, examples: [EXAMPLE.code] }),
    instance: Type.Optional(Type.String())
  },
  { $id: 'Problem', title: 'Problem', description: 'RFC 9457 problem details' }
)

export type ProblemBody = Static<typeof ProblemSchema>
