// Every code of the error catalogue has its example body, derived from the catalogue alone (a
// code added to src/errors.ts needs no hand-written example): the body the API sends for it,
// and a summary taken from its sentence.
import { describe, expect, it } from 'vitest'
import { ERRORS, sentenceOf, type ErrorCode } from '../../src/errors.js'
import { problem } from '../../src/http/problem.js'
import type { Components } from '../../src/openapi/components.js'
import { exampleRef, isExampleCode, problemExample, problemResponse, summaryOf } from '../../src/openapi/problems.js'

const CODES = Object.keys(ERRORS) as ErrorCode[]

const emptyComponents = (): Components => ({ schemas: {}, headers: {}, examples: {} })

describe('the example body of each code', () => {
  it('exists for every code of the catalogue, as the body the API sends, worded in full', () => {
    for (const code of CODES) {
      const { summary, value } = problemExample(code)
      expect(isExampleCode(code), code).toBe(true)
      expect(value, code).toMatchObject({
        code,
        status: ERRORS[code].status,
        title: ERRORS[code].title,
        type: problem(code as 'ERR_INTERNAL').type
      })
      // a sentence with variable parts is worded with example parts, never left to its title or an "undefined"
      if (typeof ERRORS[code].detail === 'string') expect(value.detail, code).toBe(sentenceOf(code as 'ERR_INTERNAL'))
      else expect(value.detail, code).not.toBe(ERRORS[code].title)
      expect(value.detail, code).not.toMatch(/undefined/)
      expect(summary, code).toMatch(/\S/)
      expect(value.detail.startsWith(summary), code).toBe(true)
    }
  })

  it('is summarized by the first clause of its sentence', () => {
    expect(summaryOf('The caller holds as many notes as allowed; delete one first.')).toBe('The caller holds as many notes as allowed')
    expect(summaryOf('No such note.')).toBe('No such note')
    expect(summaryOf('The access token is malformed: its payload is empty.')).toBe('The access token is malformed')
    expect(summaryOf('This access token is bound to a key ("cnf", e.g. DPoP) and cannot be used.')).toBe(
      'This access token is bound to a key ("cnf", e.g. DPoP) and cannot be used'
    )
    expect(summaryOf('No period')).toBe('No period')
  })

  it("is registered under the code's name where a response shows it, and refused for a code outside the catalogue", () => {
    const components = emptyComponents()
    expect(exampleRef('ERR_MESSAGE_NOT_FOUND', components)).toEqual({ $ref: '#/components/examples/ERR_MESSAGE_NOT_FOUND' })
    expect(components.examples.ERR_MESSAGE_NOT_FOUND).toEqual(problemExample('ERR_MESSAGE_NOT_FOUND'))
    expect(() => exampleRef('ERR_NOPE', components)).toThrow(/no example body for the code ERR_NOPE: it is not in the error catalogue/)
    expect(isExampleCode('ERR_NOPE')).toBe(false)
    expect(problemResponse('Gone', ['ERR_MESSAGE_NOT_FOUND']).content['application/problem+json'].examples).toEqual({
      ERR_MESSAGE_NOT_FOUND: { $ref: '#/components/examples/ERR_MESSAGE_NOT_FOUND' }
    })
  })
})
