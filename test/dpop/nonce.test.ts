/**
 * Stateless DPoP nonces (src/dpop/nonce.ts): valid in their step and the next, shared by every
 * instance with the same secret, and nothing else passes.
 */
import { createHmac, randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DpopNonces, NONCE_LENGTH } from '../../src/dpop/nonce.js'

const STEP = 300
const secret = randomBytes(32)

function clockAt(ms: number): { now: () => number; set(value: number): void; advance(seconds: number): void } {
  let current = ms
  return {
    now: () => current,
    set(value) {
      current = value
    },
    advance(seconds) {
      current += seconds * 1000
    }
  }
}

/** RFC 9449 §8.1: NQCHAR = %x21 / %x23-5B / %x5D-7E */
const NQCHARS = /^[\x21\x23-\x5B\x5D-\x7E]+$/

describe('DPoP nonces', () => {
  it('issues a nonce of NQCHARs that is valid now, the HMAC of the step', () => {
    const clock = clockAt(1_800_000_123_456)
    const nonces = new DpopNonces({ secret, stepSeconds: STEP, now: clock.now })
    const nonce = nonces.current()
    expect(nonce).toMatch(NQCHARS)
    expect(nonce).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(nonce).toHaveLength(NONCE_LENGTH)
    const step = Math.floor(1_800_000_123_456 / 1000 / STEP)
    expect(nonce).toBe(createHmac('sha256', secret).update(`dpop-nonce:${step}`).digest('base64url'))
    expect(nonces.isValid(nonce)).toBe(true)
    expect(nonces.current()).toBe(nonce)
  })

  it('keeps the same nonce within a step, and rotates at the step boundary', () => {
    const start = 1_800_000_000_000 - (1_800_000_000_000 % (STEP * 1000))
    const clock = clockAt(start)
    const nonces = new DpopNonces({ secret, stepSeconds: STEP, now: clock.now })
    const first = nonces.current()
    clock.advance(STEP - 0.001)
    expect(nonces.current()).toBe(first)
    clock.advance(0.001)
    expect(nonces.current()).not.toBe(first)
  })

  it('accepts the previous step (a client mid-flight at rotation), not the one before', () => {
    const clock = clockAt(1_800_000_000_000)
    const nonces = new DpopNonces({ secret, stepSeconds: STEP, now: clock.now })
    const old = nonces.current()
    clock.advance(STEP)
    const fresh = nonces.current()
    expect(fresh).not.toBe(old)
    expect(nonces.isValid(old)).toBe(true)
    expect(nonces.isValid(fresh)).toBe(true)
    clock.advance(STEP)
    expect(nonces.isValid(old)).toBe(false)
    expect(nonces.isValid(fresh)).toBe(true)
    clock.advance(STEP)
    expect(nonces.isValid(fresh)).toBe(false)
    // far in the future, and back
    clock.advance(STEP * 1000)
    expect(nonces.isValid(fresh)).toBe(false)
    clock.advance(-STEP * 1002)
    expect(nonces.isValid(fresh)).toBe(true)
    expect(nonces.current()).toBe(fresh)
  })

  it('does not accept a nonce of a step to come', () => {
    const clock = clockAt(1_800_000_000_000)
    const nonces = new DpopNonces({ secret, stepSeconds: STEP, now: clock.now })
    clock.advance(STEP)
    const next = nonces.current()
    clock.advance(-STEP)
    expect(nonces.isValid(next)).toBe(false)
  })

  it('agrees between instances with the same secret, not with another secret', () => {
    const clock = clockAt(1_800_000_000_000)
    const a = new DpopNonces({ secret, stepSeconds: STEP, now: clock.now })
    const b = new DpopNonces({ secret: Buffer.from(secret), stepSeconds: STEP, now: clock.now })
    const other = new DpopNonces({ secret: randomBytes(32), stepSeconds: STEP, now: clock.now })
    expect(b.current()).toBe(a.current())
    expect(b.isValid(a.current())).toBe(true)
    expect(other.current()).not.toBe(a.current())
    expect(other.isValid(a.current())).toBe(false)
    expect(a.isValid(other.current())).toBe(false)
    // a step length of its own is another nonce too
    expect(new DpopNonces({ secret, stepSeconds: STEP + 1, now: clock.now }).isValid(a.current())).toBe(false)
  })

  it('is not changed by the caller reusing its secret buffer', () => {
    const clock = clockAt(1_800_000_000_000)
    const mine = Buffer.from(secret)
    const nonces = new DpopNonces({ secret: mine, stepSeconds: STEP, now: clock.now })
    const nonce = nonces.current()
    mine.fill(0)
    clock.advance(STEP)
    expect(nonces.isValid(nonce)).toBe(true)
    expect(nonces.current()).toBe(new DpopNonces({ secret, stepSeconds: STEP, now: clock.now }).current())
  })

  it('refuses anything else', () => {
    const nonces = new DpopNonces({ secret, stepSeconds: STEP })
    const nonce = nonces.current()
    const garbage: unknown[] = [
      undefined,
      null,
      0,
      42,
      true,
      {},
      [],
      [nonce],
      { toString: () => nonce },
      Buffer.from(nonce),
      new String(nonce),
      '',
      ' ',
      `${nonce} `,
      ` ${nonce}`,
      nonce.slice(1),
      `${nonce}=`,
      nonce.toUpperCase() === nonce ? nonce.toLowerCase() : nonce.toUpperCase(),
      `${nonce.slice(0, -1)}${nonce.endsWith('A') ? 'B' : 'A'}`,
      `${nonce.slice(0, -1)}\u00e9`,
      `${nonce.slice(0, -1)}\u{1F600}`.slice(0, NONCE_LENGTH),
      'A'.repeat(NONCE_LENGTH),
      '\u0000'.repeat(NONCE_LENGTH),
      '"'.repeat(NONCE_LENGTH),
      'x'.repeat(1_000_000),
      nonce.repeat(2)
    ]
    for (const value of garbage) expect(nonces.isValid(value), JSON.stringify(String(value)).slice(0, 80)).toBe(false)
    expect(nonces.isValid(nonce)).toBe(true)
  })

  it('refuses a short secret and a step that is not a whole positive number of seconds', () => {
    expect(() => new DpopNonces({ secret: randomBytes(31), stepSeconds: STEP })).toThrow(RangeError)
    expect(() => new DpopNonces({ secret: 'x'.repeat(64) as unknown as Buffer, stepSeconds: STEP })).toThrow(RangeError)
    for (const stepSeconds of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => new DpopNonces({ secret, stepSeconds })).toThrow(RangeError)
  })

  it('property: a nonce is valid for less than one step after it was issued and never two steps after', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        fc.integer({ min: 1, max: 3600 }),
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        fc.integer({ min: 2, max: 10_000 }),
        (issuedAt, stepSeconds, withinStep, stepsLater) => {
          const clock = clockAt(issuedAt)
          const nonces = new DpopNonces({ secret, stepSeconds, now: clock.now })
          const nonce = nonces.current()
          clock.set(issuedAt + Math.floor(withinStep * stepSeconds * 1000))
          expect(nonces.isValid(nonce)).toBe(true)
          clock.set(issuedAt + stepsLater * stepSeconds * 1000)
          expect(nonces.isValid(nonce)).toBe(false)
        }
      )
    )
  })

  it('property: no other string is valid', () => {
    const nonces = new DpopNonces({ secret, stepSeconds: STEP })
    const valid = nonces.current()
    fc.assert(
      fc.property(fc.oneof(fc.string({ minLength: NONCE_LENGTH, maxLength: NONCE_LENGTH }), fc.string(), fc.base64String()), (value) => {
        fc.pre(value !== valid)
        expect(nonces.isValid(value)).toBe(false)
      })
    )
  })
})
