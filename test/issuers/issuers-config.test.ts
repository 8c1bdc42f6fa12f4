/**
 * AUTH_ISSUERS_FILE beside the single-issuer variables: it replaces AUTH_ISSUER, and a bad
 * file stops start-up with the one line that names it (as every variable does).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.js'
import { trustedIssuers } from '../../src/issuers/trusted-issuers.js'
import { runServer } from '../helpers/server-process.js'

const dir = mkdtempSync(join(tmpdir(), 'issuers-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function refusal(run: () => unknown): { variable: string; message: string } | undefined {
  try {
    run()
    return undefined
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return { variable: error.variable, message: error.message }
  }
}

describe('AUTH_ISSUERS_FILE and the single-issuer variables', () => {
  const file = join(dir, 'issuers.json')
  writeFileSync(file, JSON.stringify({ issuers: [{ issuer: 'https://a.example.test/' }, { issuer: 'https://b.example.test/' }] }))

  it('replaces AUTH_ISSUER: without it the file is enough, with it start-up stops naming AUTH_ISSUERS_FILE', () => {
    const config = loadConfig({ AUTH_ISSUERS_FILE: file, AUTH_AUDIENCE: 'https://api.example.test' })
    expect(trustedIssuers(config).map((issuer) => issuer.id)).toEqual(['https://a.example.test/', 'https://b.example.test/'])
    expect(
      refusal(() =>
        loadConfig({ AUTH_ISSUERS_FILE: file, AUTH_ISSUER: 'https://a.example.test/', AUTH_AUDIENCE: 'https://api.example.test' })
      )
    ).toMatchObject({ variable: 'AUTH_ISSUERS_FILE', message: expect.stringMatching(/replaces AUTH_ISSUER/) })
  })

  it('neither AUTH_ISSUER nor the file: start-up stops naming AUTH_ISSUER', () => {
    expect(refusal(() => loadConfig({ AUTH_AUDIENCE: 'https://api.example.test' }))?.variable).toBe('AUTH_ISSUER')
  })

  it('a file that is not there: the line names the variable and the file', () => {
    const config = loadConfig({ AUTH_ISSUERS_FILE: join(dir, 'missing.yaml'), AUTH_AUDIENCE: 'https://api.example.test' })
    const refused = refusal(() => trustedIssuers(config))
    expect(refused?.variable).toBe('AUTH_ISSUERS_FILE')
    expect(refused?.message).toContain('missing.yaml')
  })

  it('without the file: the one issuer of AUTH_ISSUER', () => {
    const config = loadConfig({ AUTH_ISSUER: 'https://a.example.test/', AUTH_AUDIENCE: 'https://api.example.test' })
    expect(trustedIssuers(config)).toMatchObject([{ kind: 'exact', issuer: 'https://a.example.test/' }])
  })
})

describe('the server with a bad issuers file', () => {
  it('exits 1 with one line naming AUTH_ISSUERS_FILE, the entry and the field, and never listens', async () => {
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'issuers:\n  - issuer: https://a.example.test/\n    audiences: 42\n')
    const result = await runServer({ AUTH_ISSUERS_FILE: file, AUTH_AUDIENCE: 'https://api.example.test' })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/AUTH_ISSUERS_FILE: .*bad\.yaml: issuers\[0\] \(https:\/\/a\.example\.test\/\): audiences: /)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
  })
})
