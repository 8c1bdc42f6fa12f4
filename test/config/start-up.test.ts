/**
 * Invalid configuration stops start-up: one line naming the variable, a non-zero exit,
 * and nothing listening.
 */
import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { freePort } from '../../scripts/free-port.js'
import { runServer } from '../helpers/server-process.js'

describe('start-up with a bad configuration', () => {
  it.each([
    [{ AUTH_ISSUER: 'https://issuer.example/' }, 'AUTH_AUDIENCE'],
    [{ AUTH_ISSUER: 'https://issuer.example/', AUTH_AUDIENCE: 'api', AUTH_ALGORITHMS: 'none' }, 'AUTH_ALGORITHMS'],
    [{ AUTH_ISSUER: 'https://issuer.example/', AUTH_AUDIENCE: 'api', AUTH_CLOCK_TOLERANCE: 'lots' }, 'AUTH_CLOCK_TOLERANCE']
  ])('%j exits non-zero naming %s, without listening', async (env, variable) => {
    const port = await freePort()
    const result = await runServer({ ...env, PORT: String(port) })
    expect(result.code).not.toBe(0)
    const lines = result.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(variable)
    expect(result.stdout).not.toContain('listening')
    // the port was never taken
    const again = createServer()
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject)
      again.listen(port, '127.0.0.1', () => resolve())
    })
    await new Promise((resolve) => again.close(resolve))
  })
})
