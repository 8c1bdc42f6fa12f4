/**
 * Access tokens for the bench, signed with the test helpers' keys: the same claims and
 * header as the tests use (typ at+jwt, kid), one hour of validity. Distinct tokens differ by
 * sub and jti. Signing runs on libuv's threadpool (crypto.sign with a callback) so that
 * 20,000 RS256 signatures take seconds, not tens of seconds.
 */
import { sign } from 'node:crypto'
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
