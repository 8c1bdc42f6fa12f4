// `npm run dev -- --issuers 2`: a second development issuer (its own keys, its own client), the
// API trusting both through an AUTH_ISSUERS_FILE; the banner shows both issuers and a
// client_credentials curl for each that works as pasted; each token reaches /api/me with its own
// issuer; the served OpenAPI document has one oauth2 scheme per issuer; Ctrl-C stops everything.
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'

import { describe, expect, it } from 'vitest'
import { exited, isListening, npmRunDev, ROOT, startedProcesses, waitFor } from './dev-process.js'

import { issuerCount } from '../../dev/dev.js'

const run = promisify(execFile)

const children = startedProcesses()

interface Started {
  child: ChildProcess
  output: () => string
  urls: { spa: string; api: string; issuer: string; issuer2: string }
  /** The banner's commands for the first issuer, then for the second. */
  curl: string[]
  curl2: string[]
}

async function startDev(args: string[]): Promise<Started> {
  const { NODE_ENV: _unset, ...env } = process.env
  const [command, commandArgs] = npmRunDev(...args)
  const child = spawn(command, commandArgs, {
    cwd: ROOT,
    env: { ...env, PORT: '0', DEV_ISSUER_PORT: '0', SPA_PORT: '0', LOG_LEVEL: 'warn', DEV_SPA_BUILD: 'if-stale' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  children.push(child)
  let text = ''
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()))
  const banner = await waitFor('the banner', () => {
    if (child.exitCode !== null) throw new Error(`npm run dev exited with ${child.exitCode}:\n${text}`)
    return /curl -s -H "Authorization: Bearer \$TOKEN2" \S+\n/.test(text) ? text : undefined
  })
  const url = (label: string): string => {
    const match = new RegExp(`^  ${label} +(http://127\\.0\\.0\\.1:\\d+)`, 'm').exec(banner)
    if (match?.[1] === undefined) throw new Error(`no ${label} URL in:\n${banner}`)
    return match[1]
  }
  const lines = banner
    .split('\n')
    .filter((line) => /^ {2}(TOKEN2?=\$\(curl|curl) /.test(line))
    .map((line) => line.trim())
  return {
    child,
    output: () => text,
    urls: { spa: url('SPA'), api: url('API'), issuer: url('Issuer'), issuer2: url('Issuer2') },
    curl: lines.filter((line) => !line.includes('TOKEN2')),
    curl2: lines.filter((line) => line.includes('TOKEN2'))
  }
}

async function stop(started: Started): Promise<void> {
  process.kill(-(started.child.pid ?? 0), 'SIGINT')
  await exited(started.child)
  const deadline = Date.now() + 10_000
  for (const url of Object.values(started.urls)) {
    while ((await isListening(url)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await isListening(url), url).toBe(false)
  }
}

describe('the number of development issuers', () => {
  it('comes from --issuers N, --issuers=N or DEV_ISSUERS (the flag wins), 1 by default, and a bad one is refused by name', () => {
    expect(issuerCount([], {})).toBe(1)
    expect(issuerCount(['--issuers', '2'], {})).toBe(2)
    expect(issuerCount(['--opaque', '--issuers=3'], {})).toBe(3)
    expect(issuerCount([], { DEV_ISSUERS: '2' })).toBe(2)
    expect(issuerCount(['--issuers', '1'], { DEV_ISSUERS: '2' })).toBe(1)
    expect(() => issuerCount(['--issuers', 'two'], {})).toThrow(/--issuers.*between 1 and 5, got "two"/)
    expect(() => issuerCount(['--issuers'], {})).toThrow(/--issuers: .*got ""/)
    expect(() => issuerCount([], { DEV_ISSUERS: '0' })).toThrow(/DEV_ISSUERS/)
    expect(() => issuerCount(['--issuers=9'], {})).toThrow(/between 1 and 5/)
  })
})

describe('npm run dev -- --issuers 2', () => {
  it('starts a second issuer the API trusts too; a client_credentials token from each works as pasted; Ctrl-C stops all', async () => {
    const started = await startDev(['--issuers', '2'])
    const { urls } = started
    expect(urls.issuer2).not.toBe(urls.issuer)
    expect(started.output()).toContain('Issuer2')
    expect(started.curl).toHaveLength(2)
    expect(started.curl2).toHaveLength(2)
    expect(started.curl2[0]).toContain(`${urls.issuer2}/token`)
    expect(started.curl2[0]).toContain('dev-cli-2:dev-cli-2-secret')
    expect(started.curl2[0]).toContain(`resource=${urls.api}`)

    // each issuer's pasted commands, run by a shell: 200 at /api/me with its own issuer
    const first = await run('bash', ['-c', started.curl.join('\n')], { timeout: 10_000 })
    expect(JSON.parse(first.stdout)).toMatchObject({ sub: 'dev-cli', clientId: 'dev-cli', issuer: urls.issuer })
    const second = await run('bash', ['-c', started.curl2.join('\n')], { timeout: 10_000 })
    expect(JSON.parse(second.stdout)).toMatchObject({ sub: 'dev-cli-2', clientId: 'dev-cli-2', issuer: urls.issuer2 })

    // their own keys: no kid in common
    const kids = async (issuer: string): Promise<string[]> =>
      ((await (await fetch(`${issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid)
    const [kidsA, kidsB] = await Promise.all([kids(urls.issuer), kids(urls.issuer2)])
    expect(kidsA.length).toBeGreaterThan(0)
    expect(kidsA.filter((kid) => kidsB.includes(kid))).toEqual([])

    // the SPA keeps the first; the API lists both, and documents an oauth2 scheme for each
    expect(await (await fetch(`${urls.spa}/config.json`)).json()).toMatchObject({ issuer: urls.issuer })
    expect(await (await fetch(`${urls.api}/.well-known/oauth-protected-resource`)).json()).toMatchObject({
      authorization_servers: [urls.issuer, urls.issuer2]
    })
    const document = (await (await fetch(`${urls.api}/openapi.json`)).json()) as {
      components: { securitySchemes: Record<string, { flows?: { authorizationCode?: { tokenUrl: string } } }> }
    }
    expect(document.components.securitySchemes.oauth2?.flows?.authorizationCode?.tokenUrl).toBe(`${urls.issuer}/token`)
    expect(document.components.securitySchemes.oauth2_2?.flows?.authorizationCode?.tokenUrl).toBe(`${urls.issuer2}/token`)
    expect((await fetch(`${urls.api}/health/ready`)).status).toBe(200)

    await stop(started)
  })

  it('with --opaque: the first issuer issues opaque tokens (introspected), the second JWTs; both reach /api/me', async () => {
    const started = await startDev(['--issuers=2', '--opaque'])
    const first = await run('bash', ['-c', started.curl.join('\n')], { timeout: 10_000 })
    expect(JSON.parse(first.stdout)).toMatchObject({ clientId: 'dev-cli', issuer: started.urls.issuer })
    const token = await run('bash', ['-c', `${started.curl[0] ?? ''}\nprintf %s "$TOKEN"`], { timeout: 10_000 })
    expect(token.stdout.split('.')).toHaveLength(1)
    const second = await run('bash', ['-c', started.curl2.join('\n')], { timeout: 10_000 })
    expect(JSON.parse(second.stdout)).toMatchObject({ clientId: 'dev-cli-2', issuer: started.urls.issuer2 })
    await stop(started)
  })
})
