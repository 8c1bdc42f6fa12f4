/**
 * The real server process, `node --import tsx server.ts`, from the project's root. Its
 * environment is the given one plus PATH and HOME: nothing else is inherited from the shell
 * (no stray AUTH_* variable; with NODE_ENV=production, no .env file either).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { signJwt } from './jwt-sign.js'
import type { TestKey } from './keys.js'
import { AUDIENCE } from './test-api.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface ServerProcess {
  child: ChildProcess
  /** What it printed so far, stdout and stderr as they came. */
  output(): string
  stdout(): string
  stderr(): string
  /** Settles when it exits; `at` is performance.now() then. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>
}

export function spawnServer(env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
    output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
    output += chunk.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() }))
  })
  return { child, output: () => output, stdout: () => stdout, stderr: () => stderr, exited }
}

/** Runs the server until it exits, killed after `timeoutMs`: for a start-up that must fail. */
export async function runServer(
  env: Record<string, string>,
  timeoutMs = 15_000
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const server = spawnServer(env)
  const timer = setTimeout(() => server.child.kill('SIGKILL'), timeoutMs)
  const closed = new Promise((resolve) => server.child.once('close', resolve)) // its output read to the end
  const { code } = await server.exited
  await closed
  clearTimeout(timer)
  return { code, stdout: server.stdout(), stderr: server.stderr() }
}

/** A valid access token (scope read:messages) for a server in another process, which trusts `issuerUrl` and the audience AUDIENCE. */
export function serverToken(issuerUrl: string, key: TestKey): string {
  const now = Math.floor(Date.now() / 1000)
  return signJwt(key, {
    iss: issuerUrl,
    sub: 'user-1',
    aud: AUDIENCE,
    iat: now,
    exp: now + 300,
    jti: `jti-${now}-${Math.random()}`,
    client_id: 'test-client',
    scope: 'read:messages'
  })
}
