/**
 * What the tests of `npm run dev` share: the command as a user types it, the processes they
 * start (each in its own process group, killed after each test), and the waits on them.
 */
import type { ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** `npm run dev` itself (npm → sh → the script), as a user types it, with `args` after `--`. */
export function npmRunDev(...args: string[]): [string, string[]] {
  const rest = args.length === 0 ? [] : ['--', ...args]
  return process.env['npm_execpath'] === undefined
    ? ['npm', ['run', '--silent', 'dev', ...rest]]
    : [process.execPath, [process.env['npm_execpath'], 'run', '--silent', 'dev', ...rest]]
}

/** The started processes of this test file: each test's are killed (the whole group) after it. */
export function startedProcesses(): ChildProcess[] {
  const children: ChildProcess[] = []
  afterEach(() => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
    }
  })
  return children
}

export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

export async function isListening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
