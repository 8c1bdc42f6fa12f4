/**
 * The DPoP variables: defaults, and each bad value stopping start-up with a line naming it.
 */
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.js'

const BASE = { AUTH_ISSUER: 'https://issuer.example.test/', AUTH_AUDIENCE: 'https://api.example.test' }

function refusal(env: Record<string, string>): { variable: string; message: string } | undefined {
  try {
    loadConfig({ ...BASE, ...env })
    return undefined
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return { variable: error.variable, message: error.message }
  }
}

describe('DPoP configuration', () => {
  it('defaults: allowed, ES256 EdDSA RS256 PS256, a 60 s window, no nonces', () => {
    expect(loadConfig(BASE).auth.dpop).toMatchObject({
      mode: 'allowed',
      algorithms: ['ES256', 'EdDSA', 'RS256', 'PS256'],
      iatWindow: 60,
      nonceSecret: undefined
    })
  })

  it('AUTH_DPOP_REPLAY_PER_KEY: half of AUTH_DPOP_REPLAY_CACHE_SIZE when unset, at most all of it', () => {
    expect(loadConfig(BASE).auth.dpop).toMatchObject({ replayCacheSize: 1_000_000, replayPerKey: 500_000 })
    expect(loadConfig({ ...BASE, AUTH_DPOP_REPLAY_CACHE_SIZE: '4000' }).auth.dpop.replayPerKey).toBe(2000)
    expect(loadConfig({ ...BASE, AUTH_DPOP_REPLAY_PER_KEY: '100' }).auth.dpop.replayPerKey).toBe(100)
    expect(refusal({ AUTH_DPOP_REPLAY_CACHE_SIZE: '2000', AUTH_DPOP_REPLAY_PER_KEY: '2001' })?.variable).toBe('AUTH_DPOP_REPLAY_PER_KEY')
    expect(refusal({ AUTH_DPOP_REPLAY_PER_KEY: '0' })?.variable).toBe('AUTH_DPOP_REPLAY_PER_KEY')
  })

  it('reads every variable', () => {
    const dpop = loadConfig({
      ...BASE,
      AUTH_DPOP: 'Required',
      AUTH_DPOP_ALGORITHMS: 'ES256,PS256',
      AUTH_DPOP_IAT_WINDOW: '30',
      AUTH_DPOP_NONCE: 'on',
      AUTH_DPOP_NONCE_SECRET: 's'.repeat(32)
    }).auth.dpop
    expect(dpop).toMatchObject({ mode: 'required', algorithms: ['ES256', 'PS256'], iatWindow: 30 })
    expect(dpop.nonceSecret?.toString()).toBe('s'.repeat(32))
  })

  it.each([
    [{ AUTH_DPOP: 'sometimes' }, 'AUTH_DPOP', /allowed, required, disabled/],
    [{ AUTH_DPOP_ALGORITHMS: 'ES256,HS256' }, 'AUTH_DPOP_ALGORITHMS', /"HS256" is not an asymmetric/],
    [{ AUTH_DPOP_ALGORITHMS: 'none' }, 'AUTH_DPOP_ALGORITHMS', /"none"/],
    [{ AUTH_DPOP_ALGORITHMS: 'ES256,' }, 'AUTH_DPOP_ALGORITHMS', /empty item/],
    [{ AUTH_DPOP_IAT_WINDOW: '0' }, 'AUTH_DPOP_IAT_WINDOW', /between 1 and 3600/],
    [{ AUTH_DPOP_IAT_WINDOW: '1m' }, 'AUTH_DPOP_IAT_WINDOW', /whole number/],
    [{ AUTH_DPOP_NONCE: 'on' }, 'AUTH_DPOP_NONCE_SECRET', /required with AUTH_DPOP_NONCE=on/],
    [{ AUTH_DPOP_NONCE: 'on', AUTH_DPOP_NONCE_SECRET: 'short' }, 'AUTH_DPOP_NONCE_SECRET', /at least 32 bytes/],
    [{ AUTH_DPOP_NONCE: 'perhaps' }, 'AUTH_DPOP_NONCE', /true or false/]
  ])('%j stops start-up naming %s', (env, variable, message) => {
    const refused = refusal(env)
    expect(refused?.variable).toBe(variable)
    expect(refused?.message).toMatch(message)
  })

  it('never echoes the nonce secret', () => {
    expect(refusal({ AUTH_DPOP_NONCE: 'on', AUTH_DPOP_NONCE_SECRET: 'tiny-secret' })?.message).not.toContain('tiny-secret')
  })
})
