/**
 * What the logs may keep of a request URL: never a credential, however it is spelled.
 */
import { describe, expect, it } from 'vitest'
import { safeUrl } from '../../src/logger.js'

const JWS = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'

describe('safeUrl', () => {
  it.each([
    ['/api/me', '/api/me'],
    ['/api/messages?limit=20&cursor=abc', '/api/messages?limit=20&cursor=abc'],
    [`/api/me?access_token=${JWS}`, '/api/me?access_token=[Redacted]'],
    [`/api/me?access%5Ftoken=${JWS}`, '/api/me?access_token=[Redacted]'],
    [`/api/me?%61ccess_token=${JWS}&x=1`, '/api/me?access_token=[Redacted]&x=1'],
    [`/api/me?ACCESS_TOKEN=${JWS}`, '/api/me?ACCESS_TOKEN=[Redacted]'],
    ['/callback?code=abc&state=s', '/callback?code=[Redacted]&state=s'],
    [`/api/me;access_token=${JWS}`, '/api/me;[Redacted]'],
    [`/api/${JWS}`, '/api/[Redacted]'],
    [`/api/me?q=${JWS}`, '/api/me?q=[Redacted]']
  ])('%s → %s', (url, logged) => {
    expect(safeUrl(url)).toBe(logged)
    expect(safeUrl(url)).not.toContain('c2lnbmF0dXJl')
  })
})
