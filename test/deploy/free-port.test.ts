/**
 * scripts/free-port.ts: a port a server can listen on, from below the kernel's ephemeral range,
 * where no outgoing connection of another test can take it before the server listens.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { freePort } from '../../scripts/free-port.js'

const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])

describe('freePort', () => {
  it('gives a port below the ephemeral range that a server can then listen on', async () => {
    for (let i = 0; i < 20; i++) {
      const port = await freePort()
      expect(port).toBeGreaterThanOrEqual(20_000)
      expect(port).toBeLessThan(ephemeralStart)
      const server = createServer()
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, '127.0.0.1', resolve)
      })
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})
