/**
 * ES256/384/512: the JWS signature (R || S) is converted to DER before node:crypto checks it.
 * The conversion must agree with node:crypto's own (dsaEncoding 'ieee-p1363') on every
 * signature, valid or not, including halves with leading zero bytes or the high bit set.
 */
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { derFromJoseEcdsa } from '../../src/token/signature.js'

const CURVES = [
  { curve: 'P-256', hash: 'sha256', size: 64 },
  { curve: 'P-384', hash: 'sha384', size: 96 },
  { curve: 'P-521', hash: 'sha512', size: 132 }
] as const

describe('derFromJoseEcdsa', () => {
  it.each(CURVES)('agrees with node:crypto on valid, tampered and odd $curve signatures', ({ curve, hash, size }) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve })
    let highBit = 0
    for (let i = 0; i < 400; i++) {
      const data = randomBytes(32)
      const signature = sign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
      expect(signature).toHaveLength(size)
      if (((signature[0] ?? 0) & 0x80) !== 0) highBit++
      expect(verify(hash, data, publicKey, derFromJoseEcdsa(signature))).toBe(true)

      const tampered = Buffer.from(signature)
      tampered[i % size] = (tampered[i % size] ?? 0) ^ (1 << (i % 8))
      const expected = verify(hash, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, tampered)
      expect(verify(hash, data, publicKey, derFromJoseEcdsa(tampered))).toBe(expected)
    }
    if (curve !== 'P-521') expect(highBit).toBeGreaterThan(0) // P-521 halves start with 0 or 1
    // zero halves and halves full of zeros or ones never verify, and never throw
    for (const odd of [Buffer.alloc(size), Buffer.alloc(size, 0xff), Buffer.concat([Buffer.alloc(size / 2), randomBytes(size / 2)])]) {
      expect(verify(hash, Buffer.from('x'), publicKey, derFromJoseEcdsa(odd))).toBe(false)
    }
  })

  it('writes minimal DER integers', () => {
    const signature = Buffer.concat([Buffer.from([0, 0, 0x7f]), Buffer.alloc(29, 1), Buffer.from([0x80]), Buffer.alloc(31, 2)])
    const der = derFromJoseEcdsa(signature)
    // SEQUENCE { INTEGER (30 bytes, zeros dropped), INTEGER (33 bytes, a 0x00 kept for the high bit) }
    expect(der[0]).toBe(0x30)
    expect(der[2]).toBe(0x02)
    expect(der[3]).toBe(30)
    expect(der[4]).toBe(0x7f)
    expect(der[34]).toBe(0x02)
    expect(der[35]).toBe(33)
    expect(der[36]).toBe(0x00)
    expect(der[37]).toBe(0x80)
    expect(der[1]).toBe(der.length - 2)
  })
})
