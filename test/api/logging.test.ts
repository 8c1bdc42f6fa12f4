/**
 * Logs are JSON with request ids; tokens and secrets never reach them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signJwt } from '../helpers/jwt-sign.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

describe('logging', () => {
  const lines: string[] = []
  let api: TestApi

  beforeAll(async () => {
    api = await startTestApi({
      env: { LOG_LEVEL: 'info' },
      logStream: {
        write: (line: string) => {
          lines.push(line)
        }
      }
    })
  })
  afterAll(async () => {
    await api.close()
  })

  it('never writes a token, and logs refusals with their code', async () => {
    const { app, key, issuer } = api
    const now = Math.floor(Date.now() / 1000)
    const valid = signJwt(key, { iss: issuer.url, aud: 'https://api.example.test', sub: 'u', exp: now + 60, scope: 'read:messages' })
    const expired = signJwt(key, { iss: issuer.url, aud: 'https://api.example.test', sub: 'u', exp: now - 60 })
    await app.inject({ url: '/api/me', headers: { authorization: `Bearer ${valid}`, cookie: 'session=secret-cookie' } })
    await app.inject({ url: '/api/me', headers: { authorization: `Bearer ${expired}` } })
    await app.inject({ url: `/api/me?access_token=${valid}` })

    const all = lines.join('\n')
    expect(lines.length).toBeGreaterThan(4)
    for (const token of [valid, expired]) {
      for (const part of token.split('.')) expect(all).not.toContain(part)
    }
    expect(all).not.toContain('secret-cookie')
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(entries.every((entry) => typeof entry.reqId === 'string' || entry.reqId === undefined)).toBe(true)
    const refusals = entries.filter((entry) => entry.msg === 'request refused')
    expect(refusals.map((entry) => (entry.auth as { code: string }).code)).toEqual(['ERR_JWT_EXPIRED', 'ERR_TOKEN_IN_QUERY'])
    expect(
      entries.some((entry) => String((entry.req as { url?: string } | undefined)?.url ?? '').includes('access_token=[Redacted]'))
    ).toBe(true)
  })
})
