/**
 * Several trusted issuers in the OpenAPI document: one oauth2 scheme per exact issuer (`oauth2`
 * for the first, `oauth2_2` for the second…), each with its own issuer's endpoints once its
 * metadata is known, every protected operation listing each of them with the route's scopes;
 * an issuer template (one authorization server per tenant, no metadata of its own) has none.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OpenApiDocument } from '../../src/openapi/document.js'
import { documentBase, oauth2SchemeNames, withFlowUrls } from '../../src/openapi/document.js'
import { makeKey } from '../helpers/keys.js'
import { AUDIENCE, buildTestApp } from '../helpers/test-api.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'
import { operations, type Json } from './document-helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'openapi-issuers-'))

interface Flow {
  authorizationUrl: string
  tokenUrl: string
  scopes: Record<string, string>
}

function flowOf(document: OpenApiDocument, scheme: string): Flow | undefined {
  return (document.components.securitySchemes[scheme] as { flows?: { authorizationCode?: Flow } } | undefined)?.flows?.authorizationCode
}

function oauth2Names(document: OpenApiDocument): string[] {
  return Object.entries(document.components.securitySchemes)
    .filter(([, scheme]) => (scheme as Json).type === 'oauth2')
    .map(([name]) => name)
}

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('oauth2 scheme names', () => {
  it('are oauth2, oauth2_2, oauth2_3… in configuration order', () => {
    expect(oauth2SchemeNames(0)).toEqual([])
    expect(oauth2SchemeNames(1)).toEqual(['oauth2'])
    expect(oauth2SchemeNames(3)).toEqual(['oauth2', 'oauth2_2', 'oauth2_3'])
  })

  it('one issuer (a string or a list of one) gives the single-issuer document; each scheme of several names its issuer', () => {
    const schemes = { bearer: true, dpop: false }
    expect(documentBase('https://a.example/', schemes)).toEqual(documentBase(['https://a.example/'], schemes))
    const two = documentBase(['https://a.example/', 'https://b.example/t'], schemes) as { components: { securitySchemes: Json } }
    expect(Object.keys(two.components.securitySchemes)).toEqual(['bearerAuth', 'oauth2', 'oauth2_2'])
    expect(two.components.securitySchemes.oauth2_2).toMatchObject({
      type: 'oauth2',
      'x-usePkce': 'SHA-256',
      description: expect.stringContaining('`https://b.example/t` (2 of 2)'),
      flows: { authorizationCode: { authorizationUrl: 'https://b.example/t/authorize', tokenUrl: 'https://b.example/t/token' } }
    })
    const none = documentBase([], schemes) as { components: { securitySchemes: Json } }
    expect(Object.keys(none.components.securitySchemes)).toEqual(['bearerAuth'])
  })

  it('withFlowUrls by scheme name changes only the schemes named, on a copy', () => {
    const base = documentBase(['https://a.example', 'https://b.example'], { bearer: true, dpop: false }) as unknown as OpenApiDocument
    const urls = { authorizationUrl: 'https://login.b/authorize', tokenUrl: 'https://login.b/token' }
    const served = withFlowUrls(base, { oauth2_2: urls, oauth2_9: urls })
    expect(flowOf(served, 'oauth2_2')).toMatchObject(urls)
    expect(flowOf(served, 'oauth2')).toMatchObject({ authorizationUrl: 'https://a.example/authorize' })
    expect(flowOf(base, 'oauth2_2')).toMatchObject({ authorizationUrl: 'https://b.example/authorize' })
    expect(served.components.securitySchemes.oauth2_9).toBeUndefined()
  })
})

describe('a two-issuer app (AUTH_ISSUERS_FILE) serving /openapi.json', () => {
  let a: TestIssuer
  let b: TestIssuer
  let down: TestIssuer
  let app: FastifyInstance
  let document: OpenApiDocument

  beforeAll(async () => {
    a = await startTestIssuer({ keys: [makeKey('ES256')] })
    b = await startTestIssuer({ keys: [makeKey('ES256')], issuerPath: '/tenant-b' })
    down = await startTestIssuer({ keys: [makeKey('ES256')] })
    // B's endpoints are not under its issuer URL: the document must take them from its metadata
    b.metadata.authorization_endpoint = 'https://login.b.example/oauth2/authorize'
    b.metadata.token_endpoint = 'https://login.b.example/oauth2/token'
    const file = join(dir, 'issuers.json')
    writeFileSync(
      file,
      JSON.stringify({
        issuers: [
          { issuer: a.url },
          { issuer: b.url },
          // a template: no oauth2 scheme of its own
          { issuerTemplate: 'https://login.tenants.example/{tenantid}/v2.0', tenants: '*', jwksUri: a.jwksUri },
          // an issuer whose metadata cannot be had: its scheme keeps the placeholder URLs
          { issuer: down.url }
        ]
      })
    )
    await down.close()
    app = await buildTestApp({ AUTH_ISSUERS_FILE: file, AUTH_AUDIENCE: AUDIENCE }, { waitForKeys: false })
    const res = await app.inject({ url: '/openapi.json' })
    expect(res.statusCode, res.body).toBe(200)
    document = res.json<OpenApiDocument>()
  })
  afterAll(async () => {
    await app?.close()
    await Promise.all([a?.close(), b?.close()])
  })

  it('has one oauth2 scheme per exact issuer, in configuration order, none for the template', () => {
    expect(oauth2Names(document)).toEqual(['oauth2', 'oauth2_2', 'oauth2_3'])
    expect((document.components.securitySchemes.oauth2 as Json).description).toContain(`\`${a.url}\``)
    expect((document.components.securitySchemes.oauth2_2 as Json).description).toContain(`\`${b.url}\``)
    expect((document.components.securitySchemes.oauth2_3 as Json).description).toContain(`\`${down.url}\``)
    expect(JSON.stringify(document.components.securitySchemes)).not.toContain('login.tenants.example')
    expect((document.components.securitySchemes.bearerAuth as Json).description).toContain('one of the trusted issuers')
  })

  it("gives each scheme its own issuer's endpoints from its metadata, placeholders while it is unknown", () => {
    expect(flowOf(document, 'oauth2')).toMatchObject({ authorizationUrl: `${a.url}/authorize`, tokenUrl: `${a.url}/token` })
    expect(flowOf(document, 'oauth2_2')).toMatchObject({
      authorizationUrl: 'https://login.b.example/oauth2/authorize',
      tokenUrl: 'https://login.b.example/oauth2/token'
    })
    expect(flowOf(document, 'oauth2_3')).toMatchObject({ authorizationUrl: `${down.url}/authorize`, tokenUrl: `${down.url}/token` })
  })

  it('lists every oauth2 scheme with the same scopes on each protected operation, and the same scope descriptions in each', () => {
    let protectedOperations = 0
    for (const { operation } of operations(document)) {
      if (operation.security === undefined || operation.security.length === 0) continue
      protectedOperations += 1
      const bearer = operation.security.find((requirement) => 'bearerAuth' in requirement)?.bearerAuth
      expect(bearer).toBeDefined()
      for (const name of ['oauth2', 'oauth2_2', 'oauth2_3']) {
        expect(operation.security.find((requirement) => name in requirement)?.[name], `${operation.operationId} ${name}`).toEqual(bearer)
      }
    }
    expect(protectedOperations).toBeGreaterThan(2)
    const scopes = flowOf(document, 'oauth2')?.scopes
    expect(Object.keys(scopes ?? {})).toContain('read:messages')
    expect(flowOf(document, 'oauth2_2')?.scopes).toEqual(scopes)
    expect(flowOf(document, 'oauth2_3')?.scopes).toEqual(scopes)
  })

  it('is the same document twice (stable order), and the docs viewer gets it too', async () => {
    const again = (await app.inject({ url: '/openapi.json' })).json<OpenApiDocument>()
    expect(JSON.stringify(again)).toBe(JSON.stringify(document))
    const viewer = await app.inject({ url: '/docs/json' })
    expect(viewer.statusCode).toBe(200)
    expect(oauth2Names(viewer.json<OpenApiDocument>())).toEqual(['oauth2', 'oauth2_2', 'oauth2_3'])
  })
})
