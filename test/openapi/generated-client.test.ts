// A client generated from the committed openapi.yaml, as a team would: openapi-typescript writes
// the types into generated/ (git-ignored), a small client written against them with openapi-fetch
// is type-checked strictly, then it calls the running API over loopback with a real access token
// from the development issuer: create a message, list it, read it, read /api/me, delete it, and
// a typed 401 problem without a token.
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import openapiTS, { astToString } from 'openapi-typescript'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OPENAPI_FILE } from '../../scripts/openapi.js'
import { startDevIssuerApi, type DevIssuerApi } from '../helpers/dev-issuer-api.js'

const OUT = fileURLToPath(new URL('../../generated/openapi-client/', import.meta.url))
const TYPES_FILE = `${OUT}openapi.ts`
const CLIENT_FILE = `${OUT}client.ts`

/** What a consumer writes against the generated types; checked with `strict` and friends. */
const CLIENT_SOURCE = `import createClient, { type Client } from 'openapi-fetch'
import type { components, paths } from './openapi.js'

type Message = components['schemas']['Message']
type Me = components['schemas']['Me']
type Problem = components['schemas']['Problem']
type IsAny<T> = 0 extends 1 & T ? true : false

export interface RoundTrip {
  created: Message
  location: string | null
  listed: Message[]
  read: Message
  me: Me
  deleted: number
  missing: Problem
  unauthorized: { status: number; challenge: string | null; problem: Problem }
}

export async function roundTrip (baseUrl: string, token: string): Promise<RoundTrip> {
  const api = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${token}\` } })

  const created = await api.POST('/api/messages', { body: { text: 'Hello from a generated client' } })
  if (created.data === undefined) throw new Error(\`createMessage: \${created.response.status}\`)
  const message: Message = created.data

  const listed = await api.GET('/api/messages')
  if (listed.data === undefined) throw new Error(\`listMessages: \${listed.response.status}\`)

  const read = await api.GET('/api/messages/{id}', { params: { path: { id: message.id } } })
  if (read.data === undefined) throw new Error(\`getMessage: \${read.response.status}\`)

  const me = await api.GET('/api/me')
  if (me.data === undefined) throw new Error(\`getMe: \${me.response.status}\`)
  const sub: string | null = me.data.sub
  const scopes: string[] = me.data.scopes
  void sub
  void scopes

  const deleted = await api.DELETE('/api/messages/{id}', { params: { path: { id: message.id } } })
  const missing = await api.GET('/api/messages/{id}', { params: { path: { id: message.id } } })
  if (missing.error === undefined) throw new Error(\`getMessage after delete: \${missing.response.status}\`)

  const anonymous = createClient<paths>({ baseUrl })
  const refused = await anonymous.GET('/api/me')
  if (refused.error === undefined) throw new Error(\`getMe without a token: \${refused.response.status}\`)
  const problem: Problem = refused.error
  const code: string | undefined = problem.code
  void code
  const typedError: IsAny<typeof refused.error> = false
  const typedData: IsAny<typeof me.data> = false
  void typedError
  void typedData

  return {
    created: message,
    location: created.response.headers.get('location'),
    listed: listed.data,
    read: read.data,
    me: me.data,
    deleted: deleted.response.status,
    missing: missing.error,
    unauthorized: { status: refused.response.status, challenge: refused.response.headers.get('www-authenticate'), problem }
  }
}

/** Never called: what the generated types must refuse. */
export function refusedAtCompileTime (api: Client<paths>): void {
  // @ts-expect-error the body needs \`text\`
  void api.POST('/api/messages', { body: {} })
  // @ts-expect-error \`text\` is a string
  void api.POST('/api/messages', { body: { text: 1 } })
  // @ts-expect-error no such path
  void api.GET('/api/nope')
  // @ts-expect-error the path needs its id
  void api.GET('/api/messages/{id}', {})
  // @ts-expect-error /api/me has no PUT
  void api.PUT('/api/me', {})
}
`

/** The shape of generated/openapi-client/client.ts, which does not exist before this test runs. */
interface GeneratedClient {
  roundTrip(
    baseUrl: string,
    token: string
  ): Promise<{
    created: { id: string; text: string; createdAt: string }
    location: string | null
    listed: unknown[]
    read: unknown
    me: unknown
    deleted: number
    missing: unknown
    unauthorized: { status: number; challenge: string | null; problem: unknown }
  }>
}

function typeCheck(file: string): string[] {
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2024.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node']
  })
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const where =
      diagnostic.file === undefined || diagnostic.start === undefined
        ? ''
        : `${diagnostic.file.fileName}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1}: `
    return `${where}${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`
  })
}

describe('a client generated from openapi.yaml', () => {
  let dev: DevIssuerApi
  let issuer: DevIssuerApi['issuer']
  let baseUrl: string

  beforeAll(async () => {
    const ast = await openapiTS(pathToFileURL(OPENAPI_FILE), { silent: true })
    await mkdir(OUT, { recursive: true })
    await writeFile(TYPES_FILE, astToString(ast))
    await writeFile(CLIENT_FILE, CLIENT_SOURCE)

    dev = await startDevIssuerApi({ listen: true })
    issuer = dev.issuer
    baseUrl = dev.url
  })

  afterAll(async () => {
    await dev?.close()
  })

  it('type-checks, and the compiler refuses what the contract forbids', () => {
    expect(typeCheck(CLIENT_FILE)).toEqual([])
  })

  it('round-trips against the running API with a real access token', async () => {
    const token = await dev.clientToken('read:messages write:messages')
    const { roundTrip } = (await import(pathToFileURL(CLIENT_FILE).href)) as GeneratedClient
    const result = await roundTrip(baseUrl, token)

    expect(result.created).toEqual({ id: expect.any(String), text: 'Hello from a generated client', createdAt: expect.any(String) })
    expect(result.location).toBe(`/api/messages/${result.created.id}`)
    expect(result.listed).toContainEqual(result.created)
    expect(result.read).toEqual(result.created)
    expect(result.me).toEqual({
      sub: issuer.cliClient.clientId,
      clientId: issuer.cliClient.clientId,
      scopes: ['read:messages', 'write:messages'],
      issuer: issuer.issuer,
      expiresAt: expect.any(String)
    })
    expect(result.deleted).toBe(204)
    expect(result.missing).toMatchObject({ status: 404, title: 'Not Found' })
    expect(result.unauthorized.status).toBe(401)
    expect(result.unauthorized.challenge).toMatch(/^Bearer realm="/)
    expect(result.unauthorized.problem).toMatchObject({
      status: 401,
      code: 'ERR_NO_CREDENTIALS',
      type: expect.any(String),
      title: expect.any(String),
      detail: expect.any(String)
    })
  })

  it("finds the issuer's own authorization and token endpoints in the served document", async () => {
    const served = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as {
      components: { securitySchemes: { oauth2: { flows: { authorizationCode: Record<string, unknown> } } } }
    }
    expect(served.components.securitySchemes.oauth2.flows.authorizationCode).toMatchObject({
      authorizationUrl: issuer.authorizationEndpoint,
      tokenUrl: issuer.tokenEndpoint
    })
  })
})
