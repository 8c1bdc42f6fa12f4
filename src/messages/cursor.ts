/**
 * The list's cursor: opaque to clients (base64url), a position in the owner's sequence inside.
 * Anything else a client sends as a cursor is ERR_INVALID_CURSOR (400). A cursor names no
 * owner: another owner's cursor only positions the caller's own list.
 */
import { CodedError, sentenceOf, type ClientError } from '../errors.js'

const PREFIX = 'm1:'

export class InvalidCursor extends CodedError implements ClientError {
  override readonly name = 'InvalidCursor'
  readonly code = 'ERR_INVALID_CURSOR'
  readonly description = sentenceOf('ERR_INVALID_CURSOR')
}

/** The cursor that continues the list after the message with this sequence number. */
export function encodeCursor(seq: number): string {
  return Buffer.from(`${PREFIX}${seq}`).toString('base64url')
}

/** The sequence number the next page starts below; InvalidCursor for anything else. */
export function decodeCursor(cursor: string): number {
  if (!/^[\w-]{1,40}$/.test(cursor)) throw new InvalidCursor()
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  const match = /^m1:([1-9]\d{0,14})$/.exec(text)
  if (match === null || encodeCursor(Number(match[1])) !== cursor) throw new InvalidCursor()
  return Number(match[1])
}
