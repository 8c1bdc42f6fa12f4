/**
 * JSON for JOSE: RFC 7515 §5.2 and RFC 8725 §3.x. A header or claims set must be one JSON
 * object, with no duplicate member names (at any depth), bounded nesting, and valid UTF-8.
 * JSON.parse accepts duplicates silently (last one wins), which lets two parties read one
 * token differently, so a small scanner checks the structure before JSON.parse builds values.
 *
 * The fast path counts member names instead of collecting them: countMemberNames counts the
 * strings in name position (and refuses excessive depth), JSON.parse builds the value, and
 * the parsed objects' own keys are counted. A duplicate name, however it is escaped, leaves
 * one key for two members, so the counts differ exactly when there is a duplicate; only then
 * does the collecting scanner run, to name the duplicate in the error.
 */
import { CodedError } from '../errors.js'

export const MAX_JSON_DEPTH = 16

/** Not one strict JSON object; the message says why, for the logs. */
export class StrictJsonError extends CodedError {
  override readonly name = 'StrictJsonError'
  readonly code = 'ERR_JSON_NOT_STRICT'
}

const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * Walks the structure of `text` and returns the number of member names (strings in name
 * position); throws StrictJsonError past MAX_JSON_DEPTH. With `collect`, each object keeps the
 * set of its member names and a duplicate throws, naming it (a name with escapes is decoded, so
 * "a" and "\u0061" are one name); without, names are only counted, and nothing is allocated per name.
 */
function scan(text: string, collect: boolean): number {
  // per open object: its names (collect) or true; per open array: null
  const stack: Array<Set<string> | true | null> = []
  let expectKey = false
  let members = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const start = i
      let escaped = false
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i)
        if (d === BACKSLASH) {
          escaped = true
          i++
        } else if (d === QUOTE) break
      }
      if (expectKey) {
        members++
        expectKey = false
        const top = stack[stack.length - 1]
        if (top instanceof Set) {
          const name = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i)
          if (top.has(name)) throw new StrictJsonError(`duplicate member "${name.slice(0, 40)}"`)
          top.add(name)
        }
      }
      continue
    }
    switch (c) {
      case 0x7b: // {
        stack.push(collect ? new Set() : true)
        if (stack.length > MAX_JSON_DEPTH) throw new StrictJsonError('nesting too deep')
        expectKey = true
        break
      case 0x5b: // [
        stack.push(null)
        if (stack.length > MAX_JSON_DEPTH) throw new StrictJsonError('nesting too deep')
        expectKey = false
        break
      case 0x7d: // }
      case 0x5d: // ]
        stack.pop()
        expectKey = false
        break
      case 0x2c: // ,
        expectKey = stack.length > 0 && stack[stack.length - 1] !== null
        break
      default:
        break
    }
  }
  return members
}

/**
 * scan(text, false), the same count and the same depth refusal, but it crosses each string with
 * one indexOf per quote instead of a step per character: most of a claims set is inside strings
 * (issuer, audience, subject, scopes), and the per-character loop was the strict parser's
 * largest cost on the event loop. A quote is escaped exactly when an odd run of backslashes
 * precedes it inside the string, which is what scan's skip-the-next-character rule amounts to.
 * test/token/strict-json.test.ts holds the two to the same answers.
 */
export function countMemberNames(text: string): number {
  // per open container: true for an object, false for an array
  const objects: boolean[] = []
  let expectKey = false
  let members = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const start = i
      for (;;) {
        i = text.indexOf('"', i + 1)
        if (i === -1) {
          i = text.length // unterminated: the string runs to the end, as in scan
          break
        }
        let backslashes = 0
        while (i - backslashes - 1 > start && text.charCodeAt(i - backslashes - 1) === BACKSLASH) backslashes++
        if ((backslashes & 1) === 0) break
      }
      if (expectKey) {
        members++
        expectKey = false
      }
      continue
    }
    switch (c) {
      case 0x7b: // {
        objects.push(true)
        if (objects.length > MAX_JSON_DEPTH) throw new StrictJsonError('nesting too deep')
        expectKey = true
        break
      case 0x5b: // [
        objects.push(false)
        if (objects.length > MAX_JSON_DEPTH) throw new StrictJsonError('nesting too deep')
        expectKey = false
        break
      case 0x7d: // }
      case 0x5d: // ]
        objects.pop()
        expectKey = false
        break
      case 0x2c: // ,
        expectKey = objects.length > 0 && objects[objects.length - 1] === true
        break
      default:
        break
    }
  }
  return members
}

/** The reference for countMemberNames (test only): scan's count, one character at a time. */
export function scanMemberNames(text: string): number {
  return scan(text, false)
}

/** The own keys of every object in a parsed JSON value (Object.values: no keyed load per name). */
function countKeys(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0
  if (Array.isArray(value)) {
    let keys = 0
    for (const item of value) keys += countKeys(item)
    return keys
  }
  const values = Object.values(value)
  let keys = values.length
  for (const item of values) keys += countKeys(item)
  return keys
}

/** The collecting scanner, for the error: throws StrictJsonError naming the first duplicate member. */
function duplicates(text: string): void {
  try {
    scan(text, true)
  } catch (error) {
    if (error instanceof StrictJsonError) throw error
    throw new StrictJsonError('not valid JSON') // a malformed escape in a member name
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/** Decodes UTF-8 bytes into one JSON object, strictly. */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    throw new StrictJsonError('not valid UTF-8')
  }
  // The structure first: a text nested a million levels deep is refused at level 17, before
  // JSON.parse spends time and memory building it.
  let members: number
  try {
    members = countMemberNames(text)
  } catch (error) {
    duplicates(text) // a duplicate before the depth is passed is named, as it always was
    throw error
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    // the collecting scanner's verdict first (a duplicate before the flaw), as it always was
    duplicates(text)
    throw new StrictJsonError('not valid JSON')
  }
  if (countKeys(value) !== members) {
    duplicates(text)
    throw new StrictJsonError('not valid JSON') // not reached: unequal counts mean a duplicate
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new StrictJsonError('not a JSON object')
  }
  return value as Record<string, unknown>
}
