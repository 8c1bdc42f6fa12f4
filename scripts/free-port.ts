/**
 * A free TCP port on loopback, for servers whose URL must be known before they listen
 * (the dev stack, the container check, the benchmark and tests that spawn the server).
 *
 * The port is chosen below the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range,
 * 32768–60999 by default), where the kernel never puts the local end of an outgoing connection:
 * a port from the ephemeral range (what `listen(0)` gives) can be taken by any client's
 * connection between this check and the server's own listen (seen as EADDRINUSE in a test run
 * beside others). Where the range cannot be read or leaves no room below it, `listen(0)` it is.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/** The lowest port this picks from: above the well-known and most registered services' ports. */
const LOWEST = 20_000

/** The first port of the kernel's ephemeral range, or undefined where it cannot be read. */
function ephemeralStart(): number | undefined {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    return low !== undefined && Number.isInteger(low) ? low : undefined
  } catch {
    return undefined
  }
}

/** Listens on `port` (0: any) and closes again; resolves with the port, or undefined when it is taken. */
function probe(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(undefined)
      else reject(error)
    })
    server.listen(port, host, () => {
      const address = server.address()
      const bound = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(bound))
    })
  })
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const start = ephemeralStart()
  if (start !== undefined && start - LOWEST >= 1000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = await probe(LOWEST + Math.floor(Math.random() * (start - LOWEST)), host)
      if (port !== undefined) return port
    }
  }
  const port = await probe(0, host)
  if (port === undefined) throw new Error(`no free port on ${host}`)
  return port
}
