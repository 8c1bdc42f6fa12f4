// `npm run dev` as a user meets it: it prints three URLs and a curl that works as pasted, and
// Ctrl-C (SIGINT to the whole process group) or SIGTERM stops all three servers.
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'

import { describe, expect, it } from 'vitest'
import { exited, isListening, npmRunDev, ROOT, startedProcesses, waitFor } from './dev-process.js'

const run = promisify(execFile)
/** `npm run dev` itself (npm → sh → the script), as a user types it. */
const NPM_RUN_DEV = npmRunDev()
/** The script alone, to watch its own signal handling and exit code. */
const DEV_SCRIPT: [string, string[]] = [process.execPath, ['--import', 'tsx', 'dev/dev.ts']]

interface Started {
  child: ChildProcess
  output: () => string
  urls: { spa: string; api: string; issuer: string }
  curl: string[]
}

const children = startedProcesses()

/**
 * Free ports everywhere (0), quiet API logs, and NODE_ENV unset as on a newcomer's machine;
 * its own process group, as a terminal would give it.
 */
function devEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { NODE_ENV: _unset, ...env } = process.env
  return { ...env, PORT: '0', DEV_ISSUER_PORT: '0', SPA_PORT: '0', LOG_LEVEL: 'warn', ...extra }
}

function spawnDev(command: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  return { child, output: () => output }
}

async function startDev([command, args]: [string, string[]], extra: Record<string, string> = {}): Promise<Started> {
  const { child, output } = spawnDev(command, args, devEnv(extra))
  const banner = await waitFor('the banner', () => {
    if (child.exitCode !== null) throw new Error(`npm run dev exited with ${child.exitCode}:\n${output()}`)
    return /curl -s -H "Authorization: Bearer \$TOKEN" \S+\n/.test(output()) ? output() : undefined
  })
  const url = (label: string): string => {
    const match = new RegExp(`^  ${label} +(http://127\\.0\\.0\\.1:\\d+)`, 'm').exec(banner)
    if (match?.[1] === undefined) throw new Error(`no ${label} URL in:\n${banner}`)
    return match[1]
  }
  const curl = banner
    .split('\n')
    .filter((line) => /^ {2}(TOKEN=\$\(curl|curl) /.test(line))
    .map((line) => line.trim())
  return { child, output, urls: { spa: url('SPA'), api: url('API'), issuer: url('Issuer') }, curl }
}

/** All three ports closed, within a few seconds (a parent may exit before its child is done). */
async function expectAllStopped(started: Started): Promise<void> {
  const deadline = Date.now() + 10_000
  for (const url of Object.values(started.urls)) {
    while ((await isListening(url)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await isListening(url), url).toBe(false)
  }
}

describe('npm run dev', () => {
  it('prints the three URLs and a client_credentials curl that works as pasted; Ctrl-C stops all three', async () => {
    // as on a fresh clone: no NODE_ENV, and the SPA built by this very command (Vite sets
    // NODE_ENV=production in the process that builds; the issuer started after it must not see it)
    const started = await startDev(NPM_RUN_DEV, { DEV_SPA_BUILD: 'always' })
    const { urls } = started
    expect(started.curl).toHaveLength(2)
    expect(started.curl[0]).toContain(`${urls.issuer}/token`)
    expect(started.curl[0]).toContain(`resource=${urls.api}`)

    // the pasted commands, run by a shell
    const { stdout } = await run('bash', ['-c', started.curl.join('\n')], { timeout: 10_000 })
    expect(JSON.parse(stdout)).toMatchObject({ sub: 'dev-cli', clientId: 'dev-cli', issuer: urls.issuer })

    const spa = await fetch(urls.spa)
    expect(spa.status).toBe(200)
    expect(await spa.text()).toContain('Demo SPA')
    expect(await (await fetch(`${urls.spa}/config.json`)).json()).toMatchObject({
      issuer: urls.issuer,
      apiUrl: urls.api,
      resource: urls.api
    })
    expect((await fetch(`${urls.issuer}/.well-known/openid-configuration`)).status).toBe(200)
    expect((await fetch(`${urls.api}/health/ready`)).status).toBe(200)

    // Ctrl-C: the terminal sends SIGINT to the whole foreground process group
    process.kill(-(started.child.pid ?? 0), 'SIGINT')
    await exited(started.child)
    await expectAllStopped(started)
  })

  it('stops all three on SIGINT and on SIGTERM, and exits 0', async () => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const started = await startDev(DEV_SCRIPT)
      started.child.kill(signal)
      expect(await exited(started.child)).toBe(0)
      expect(started.output()).toMatch(new RegExp(`${signal}: stopping the API, the issuer and the SPA\\.\\.\\.\\n(.*\\n)*stopped\\n`))
      await expectAllStopped(started)
    }
  })

  it('stops all three when npm itself gets SIGTERM', async () => {
    const started = await startDev(NPM_RUN_DEV)
    started.child.kill('SIGTERM')
    await exited(started.child)
    await expectAllStopped(started)
    await waitFor('the script to say so', () => (started.output().includes('npm has exited: stopping') ? true : undefined), 5_000)
  })

  it('refuses to run with NODE_ENV=production, and listens on nothing', async () => {
    const { child, output } = spawnDev(DEV_SCRIPT[0], DEV_SCRIPT[1], devEnv({ NODE_ENV: 'production' }))
    expect(await exited(child)).toBe(1)
    expect(output()).toMatch(/refusing to run with NODE_ENV=production/)
  })
})
