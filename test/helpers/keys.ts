/**
 * Test signing keys (node:crypto only).
 *
 * RSA key generation costs ~50-200 ms per 2048-bit key, so RSA material is pooled: for each
 * (alg, modulusLength) the first POOL_SIZE calls generate distinct key pairs and later calls
 * reuse them round-robin, each time under a fresh `kid`. EC and Ed25519 keys are cheap and are
 * always fresh.
 *
 * Consequence: two RSA TestKeys of the same alg and size made more than POOL_SIZE calls apart
 * can share key material. When a test needs a key that is guaranteed to differ from every other
 * key (an "attacker" key, a key that must not verify), pass `fresh: true`.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import type { KeyObject } from 'node:crypto'

export type TestAlg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA'

export const ALL_TEST_ALGS: readonly TestAlg[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']

export interface TestKey {
  kid: string
  alg: TestAlg
  privateKey: KeyObject
  publicKey: KeyObject
  /** Public JWK: kty + key members, kid, alg (unless includeAlg false), use (default 'sig'), key_ops when given. */
  publicJwk: Record<string, unknown>
}

export interface MakeKeyOptions {
  /** Default: a random kid. */
  kid?: string
  /** RSA only. Default 2048 (1024 is allowed for the "weak key" test). */
  modulusLength?: number
  /** Put `alg` into the JWK. Default true. */
  includeAlg?: boolean
  /** JWK `use`. Default 'sig'; null leaves `use` out. */
  use?: string | null
  /** JWK `key_ops`, left out unless given. */
  keyOps?: string[]
  /** RSA only: always generate new key material instead of using the pool. */
  fresh?: boolean
}

const POOL_SIZE = 8

interface KeyPair {
  privateKey: KeyObject
  publicKey: KeyObject
}

const rsaPool = new Map<string, { pairs: KeyPair[]; next: number }>()

const EC_CURVES = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' } as const

function isRsa(alg: TestAlg): boolean {
  return alg.startsWith('RS') || alg.startsWith('PS')
}

function generate(alg: TestAlg, modulusLength: number): KeyPair {
  if (isRsa(alg)) return generateKeyPairSync('rsa', { modulusLength, publicExponent: 0x10001 })
  if (alg === 'EdDSA') return generateKeyPairSync('ed25519')
  return generateKeyPairSync('ec', { namedCurve: EC_CURVES[alg as keyof typeof EC_CURVES] })
}

function pooledRsa(alg: TestAlg, modulusLength: number): KeyPair {
  const id = `${alg}:${modulusLength}`
  let entry = rsaPool.get(id)
  if (entry === undefined) {
    entry = { pairs: [], next: 0 }
    rsaPool.set(id, entry)
  }
  if (entry.pairs.length < POOL_SIZE) {
    const pair = generate(alg, modulusLength)
    entry.pairs.push(pair)
    return pair
  }
  const pair = entry.pairs[entry.next % POOL_SIZE]
  entry.next++
  if (pair === undefined) throw new Error('key pool corrupted')
  return pair
}

let kidCounter = 0

function randomKid(alg: TestAlg): string {
  kidCounter++
  return `test-${alg.toLowerCase()}-${kidCounter}-${randomBytes(6).toString('hex')}`
}

export function makeKey(alg: TestAlg, opts: MakeKeyOptions = {}): TestKey {
  if (!ALL_TEST_ALGS.includes(alg)) throw new Error(`makeKey: unsupported alg ${String(alg)}`)
  const modulusLength = opts.modulusLength ?? 2048
  const pair = isRsa(alg) && opts.fresh !== true ? pooledRsa(alg, modulusLength) : generate(alg, modulusLength)
  const kid = opts.kid ?? randomKid(alg)

  const exported = pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>
  const publicJwk: Record<string, unknown> = { ...exported, kid }
  if (opts.includeAlg !== false) publicJwk.alg = alg
  const use = opts.use === undefined ? 'sig' : opts.use
  if (use !== null) publicJwk.use = use
  if (opts.keyOps !== undefined) publicJwk.key_ops = [...opts.keyOps]

  return { kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey, publicJwk }
}

/** A JWK Set of the keys' public JWKs (copies, so a test may mutate them freely). */
export function jwks(...keys: TestKey[]): { keys: Record<string, unknown>[] } {
  return { keys: keys.map((k) => structuredClone(k.publicJwk)) }
}
