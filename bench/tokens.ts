/**
 * Access tokens for the bench, signed with the test helpers' keys: the same claims and
 * header as the tests use (typ at+jwt, kid), one hour of validity. Distinct tokens differ by
 * sub and jti. Signing runs on libuv's threadpool (crypto.sign with a callback) so that
 * 20,000 RS256 signatures take seconds, not tens of seconds.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { TestKey } from '../test/helpers/keys.js'
import { b64url, signJwt } from '../test/helpers/jwt-sign.js'

export interface TokenContext {
  issuer: string
  audience: string
}

function claims(context: TokenContext, label: string, validitySec = 3600): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return {
    iss: context.issuer,
    aud: context.audience,
    sub: `bench-${label}`,
    client_id: 'bench-client',
    scope: 'read:messages write:messages',
    iat: now,
    exp: now + validitySec,
    jti: label
  }
}

/** One token (signed synchronously by the test helper). */
export function mintOne(key: TestKey, context: TokenContext, label: string): string {
  return signJwt(key, claims(context, label))
}

function signAsync(key: TestKey, input: string): Promise<Buffer> {
  const data = Buffer.from(input)
  const keyInput = key.alg.startsWith('ES') ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' as const } : key.privateKey
  return new Promise((resolve, reject) => {
    sign('sha256', data, keyInput, (error, signature) => (error === null ? resolve(signature) : reject(error)))
  })
}

/** `count` distinct tokens of `key` (RS256 or ES256), valid for `validitySec` (an hour by default). */
export async function mintMany(key: TestKey, context: TokenContext, count: number, prefix: string, validitySec = 3600): Promise<string[]> {
  if (key.alg !== 'RS256' && key.alg !== 'ES256') throw new Error(`mintMany: ${key.alg} is not supported`)
  const header = b64url(JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid }))
  const tokens = new Array<string>(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      const input = `${header}.${b64url(JSON.stringify(claims(context, `${prefix}-${i}`, validitySec)))}`
      tokens[i] = `${input}.${b64url(await signAsync(key, input))}`
    }
  }
  await Promise.all(Array.from({ length: 32 }, worker))
  return tokens
}

/**
 * The bench's issuer keys (RS256 2048-bit, ES256), kept in `file` (under bench/out, not
 * committed) so that the distinct-token sets minted with them can be reused by later runs
 * (see mintCached); made on the first run.
 */
export function benchKeys(file: string): { rsa: TestKey; es: TestKey } {
  type Stored = Record<'RS256' | 'ES256', { kid: string; pem: string }>
  let stored: Stored
  if (existsSync(file)) {
    stored = JSON.parse(readFileSync(file, 'utf8')) as Stored
  } else {
    const make = (alg: 'RS256' | 'ES256') => {
      const pair =
        alg === 'RS256'
          ? generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
          : generateKeyPairSync('ec', { namedCurve: 'P-256' })
      return {
        kid: `bench-${alg.toLowerCase()}-${randomBytes(6).toString('hex')}`,
        pem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
      }
    }
    stored = { RS256: make('RS256'), ES256: make('ES256') }
    writeFileSync(file, `${JSON.stringify(stored)}\n`, { mode: 0o600 })
  }
  const key = (alg: 'RS256' | 'ES256'): TestKey => {
    const privateKey = createPrivateKey(stored[alg].pem)
    const publicKey = createPublicKey(privateKey)
    const publicJwk = { ...(publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: stored[alg].kid, alg, use: 'sig' }
    return { kid: stored[alg].kid, alg, privateKey, publicKey, publicJwk }
  }
  return { rsa: key('RS256'), es: key('ES256') }
}

/** How long cached distinct tokens are valid for, and how much of it must be left to reuse them. */
const CACHED_VALIDITY_SEC = 7 * 24 * 3600
const CACHED_MIN_LEFT_SEC = 12 * 3600

/**
 * `count` distinct tokens of `key` in `file` (one per line): the file minted by an earlier run
 * when it was made for the same key, issuer, audience and prefix, holds at least `count` tokens
 * and has 12 hours of validity left; minted afresh (valid for 7 days) otherwise. Minting
 * 300,000 RS256 tokens takes a minute or two of both cores; reading them, a second.
 */
export async function mintCached(
  key: TestKey,
  context: TokenContext,
  count: number,
  prefix: string,
  file: string
): Promise<{ file: string; minted: boolean }> {
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([key.publicJwk, context.issuer, context.audience, prefix]))
    .digest('hex')
  const metaFile = `${file}.meta.json`
  const now = Math.floor(Date.now() / 1000)
  if (existsSync(metaFile) && existsSync(file)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { fingerprint: string; count: number; exp: number }
    if (meta.fingerprint === fingerprint && meta.count >= count && meta.exp - now >= CACHED_MIN_LEFT_SEC) return { file, minted: false }
  }
  // worker threads, one per core, each signing its share synchronously (crypto.sign with a
  // callback spends most of an RSA signature's time on the main thread: one core in all)
  const header = b64url(JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid }))
  const pem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
  const workers = availableParallelism()
  const share = Math.ceil(count / workers)
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const workerData = {
        pem,
        alg: key.alg,
        header,
        context,
        prefix,
        from: w * share,
        to: Math.min(count, (w + 1) * share),
        validitySec: CACHED_VALIDITY_SEC,
        now
      }
      return new Promise<string>((resolve, reject) => {
        const worker = new Worker(new URL('./mint-worker.mjs', import.meta.url), { workerData })
        worker.once('message', (text: string) => resolve(text))
        worker.once('error', reject)
      })
    })
  )
  const fd = openSync(file, 'w')
  try {
    for (const part of parts) if (part !== '') writeSync(fd, `${part}\n`)
  } finally {
    closeSync(fd)
  }
  writeFileSync(metaFile, `${JSON.stringify({ fingerprint, count, exp: now + CACHED_VALIDITY_SEC })}\n`)
  return { file, minted: true }
}

/**
 * A DPoP client (RFC 9449) for the bench: an ES256 key of its own, one access token bound to
 * it (`cnf.jkt`, signed by `key`), and fresh proofs for `GET htu` — each with its own `jti`,
 * `iat` now and `ath` of the token — written before each load as "<token> <proof>" lines, so
 * that no proof is ever sent twice (the API would refuse the second as a replay).
 */
export function dpopClient(
  key: TestKey,
  context: TokenContext,
  htu: string,
  file: string
): { token: string; proofs: (count: number) => Promise<string> } {
  const client = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const { crv, x, y } = client.publicKey.export({ format: 'jwk' })
  const jwk = { kty: 'EC', crv, x, y }
  const jkt = createHash('sha256')
    .update(JSON.stringify({ crv, kty: 'EC', x, y }))
    .digest('base64url')
  const token = signJwt(key, { ...claims(context, 'dpop-caller'), cnf: { jkt } })
  const ath = createHash('sha256').update(token).digest('base64url')
  const header = b64url(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk }))
  let made = 0
  return {
    token,
    async proofs(count) {
      const lines = new Array<string>(count)
      const iat = Math.floor(Date.now() / 1000)
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < count) {
          const i = next++
          const input = `${header}.${b64url(JSON.stringify({ jti: `bench-${made + i}`, htm: 'GET', htu, iat, ath }))}`
          const signature = await new Promise<Buffer>((resolve, reject) => {
            sign('sha256', Buffer.from(input), { key: client.privateKey, dsaEncoding: 'ieee-p1363' }, (error, out) =>
              error === null ? resolve(out) : reject(error)
            )
          })
          lines[i] = `${token} ${input}.${b64url(signature)}`
        }
      }
      await Promise.all(Array.from({ length: 16 }, worker))
      made += count
      writeFileSync(file, `${lines.join('\n')}\n`)
      return file
    }
  }
}
