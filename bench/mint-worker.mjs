// A worker thread of bench/tokens.ts mintMany: signs its share of the distinct tokens
// synchronously (one core each), so that 300,000 RS256 signatures take a minute on 2 cores
// instead of several on the main thread. workerData: { pem, alg, header, context, prefix,
// from, to, validitySec, now }; posts back the tokens, one per line.
import { Buffer } from 'node:buffer'
import { createPrivateKey, sign } from 'node:crypto'
import { parentPort, workerData } from 'node:worker_threads'

const { pem, alg, header, context, prefix, from, to, validitySec, now } = workerData
const key = createPrivateKey(pem)
const keyInput = alg.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' } : key
const lines = []
for (let i = from; i < to; i++) {
  const claims = {
    iss: context.issuer,
    aud: context.audience,
    sub: `bench-${prefix}-${i}`,
    client_id: 'bench-client',
    scope: 'read:messages write:messages',
    iat: now,
    exp: now + validitySec,
    jti: `${prefix}-${i}`
  }
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  lines.push(`${input}.${sign('sha256', Buffer.from(input), keyInput).toString('base64url')}`)
}
parentPort.postMessage(lines.join('\n'))
