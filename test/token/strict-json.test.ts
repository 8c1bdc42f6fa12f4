/**
 * countMemberNames, the strict parser's fast structure scan, against the character-by-character
 * scanner it replaced on the hot path: the same count of member names, and the same refusal past
 * MAX_JSON_DEPTH, for JSON texts and for any text at all (the scan runs before JSON.parse, so it
 * sees malformed input too: stray quotes, runs of backslashes, unterminated strings).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { countMemberNames, MAX_JSON_DEPTH, scanMemberNames, StrictJsonError } from '../../src/token/strict-json.js'

function outcome(count: (text: string) => number, text: string): number | string {
  try {
    return count(text)
  } catch (error) {
    if (error instanceof StrictJsonError) return `refused: ${error.message}`
    throw error
  }
}

const agree = (text: string): void => {
  expect(outcome(countMemberNames, text), JSON.stringify(text)).toEqual(outcome(scanMemberNames, text))
}

/** Text made of the characters the scan reacts to, and a few it does not. */
const structural = fc.string({
  unit: fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', ' ', 'a', '1', 'u', '\n'),
  maxLength: 60
})

describe('countMemberNames', () => {
  it('counts as the character-by-character scan does, for JSON texts', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 6 }), (text) => {
        agree(text)
        // the texts JSON.stringify writes: escapes in names and values
        agree(JSON.stringify(JSON.parse(text), null, 1))
      }),
      { numRuns: 2000 }
    )
  })

  it('counts and refuses as the character-by-character scan does, for any text', () => {
    fc.assert(fc.property(structural, agree), { numRuns: 20000 })
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 80 }), agree), { numRuns: 2000 })
  })

  it('agrees on escaped quotes and backslash runs next to the quotes', () => {
    for (const text of [
      '{"a":1}',
      '{"a\\"":1,"b":2}',
      '{"a\\\\":1,"b":2}',
      '{"a\\\\\\"":1,"b":2}',
      '{"\\\\":1,"b":2}',
      '{"\\"":1,"b":2}',
      '{"":1,"b":"\\\\"}',
      '{"a":"\\\\\\\\","b":"x\\"y","c":{"d":[1,{"e":"}"}]}}',
      '{"a',
      '{"a\\',
      '"',
      '{,"a":1,,"b"}',
      '[{"a":1},"b",{"c":2}]'
    ]) {
      agree(text)
    }
    expect(countMemberNames('{"a\\"":1,"b":2}')).toBe(2)
    expect(countMemberNames('{"a":"\\\\\\\\","b":"x\\"y","c":{"d":[1,{"e":"}"}]}}')).toBe(5)
  })

  it('refuses nesting past MAX_JSON_DEPTH, and not at it', () => {
    const nested = (depth: number): string => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1)
    expect(countMemberNames(nested(MAX_JSON_DEPTH))).toBe(MAX_JSON_DEPTH - 1)
    expect(() => countMemberNames(nested(MAX_JSON_DEPTH + 1))).toThrow(new StrictJsonError('nesting too deep'))
    expect(() => countMemberNames('['.repeat(MAX_JSON_DEPTH + 1))).toThrow(new StrictJsonError('nesting too deep'))
    // brackets inside strings are not nesting
    expect(countMemberNames(`{"a":"${'['.repeat(100)}"}`)).toBe(1)
  })
})
