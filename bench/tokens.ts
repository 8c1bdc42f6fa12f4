/**
 * Access tokens for the bench, signed with the test helpers' keys: the same claims and
 * header as the tests use (typ at+jwt, kid), one hour of validity. Distinct tokens differ by
 * sub and jti. Signing runs on libuv's threadpool (crypto.sign with a callback) so that
 * 20,000 RS256 signatures take seconds, not tens of seconds.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import type { TestKey } from '../test/helpers/keys.js'
import { b64url, signJwt } from '../test/helpers/jwt-sign.js'

export interface TokenContext {
  issuer: string
  audience: string
}

function claims(context: TokenContext, label: string): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return {
    iss: context.issuer,
    aud: context.audience,
    sub: `bench-${label}`,
    client_id: 'bench-client',
    scope: 'read:messages write:messages',
    iat: now,
    exp: now + 3600,
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

/** `count` distinct tokens of `key` (RS256 or ES256). */
export async function mintMany(key: TestKey, context: TokenContext, count: number, prefix: string): Promise<string[]> {
  if (key.alg !== 'RS256' && key.alg !== 'ES256') throw new Error(`mintMany: ${key.alg} is not supported`)
  const header = b64url(JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid }))
  const tokens = new Array<string>(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      const input = `${header}.${b64url(JSON.stringify(claims(context, `${prefix}-${i}`)))}`
      tokens[i] = `${input}.${b64url(await signAsync(key, input))}`
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
  return tokens
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
