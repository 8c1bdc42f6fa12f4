/**
 * `npm run openapi` writes `openapi.yaml` from the app's routes; `npm run openapi:check`
 * (`--check`) exits 1 when the committed file differs from what the code gives.
 * No network and no issuer: the app is built with a fixed example configuration, never
 * fetches keys, and the oauth2 URLs are placeholders derived from the example issuer.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Document } from 'yaml'
import { buildApp } from '../app.js'
import { loadConfig } from '../src/config.js'
import type { OpenApiDocument } from '../plugins/swagger.js'

/** The configuration the committed document is generated with: only example values. */
export const EXAMPLE_ENV: Readonly<Record<string, string>> = {
  AUTH_ISSUER: 'https://issuer.example.com/',
  AUTH_AUDIENCE: 'https://api.example.com',
  AUTH_JWKS_URI: 'https://issuer.example.com/.well-known/jwks.json',
  METRICS_ENABLED: 'true',
  LOG_LEVEL: 'silent'
}

export const OPENAPI_FILE = fileURLToPath(new URL('../openapi.yaml', import.meta.url))

const HEADER =
  ' Generated from the route schemas by `npm run openapi`: do not edit by hand.\n `npm run openapi:check` fails when this file is not what the code gives.'

/** The document of an app built with the example configuration, as `GET /openapi.json` serves it there. */
export async function buildOpenApiDocument(): Promise<OpenApiDocument> {
  const app = await buildApp({ config: loadConfig({ ...EXAMPLE_ENV }), logger: false, fetchKeysOnReady: false })
  try {
    await app.ready()
    return await app.openapiDocument()
  } finally {
    await app.close()
  }
}

export function renderOpenApiYaml(document: OpenApiDocument): string {
  const yaml = new Document(document, { aliasDuplicateObjects: false })
  yaml.commentBefore = HEADER
  return yaml.toString({ lineWidth: 0 })
}

export interface CheckResult {
  ok: boolean
  message: string
}

/** Compares `file` with the document the code gives now. */
export async function checkOpenApi(file: string = OPENAPI_FILE, expected?: string): Promise<CheckResult> {
  const generated = expected ?? renderOpenApiYaml(await buildOpenApiDocument())
  const name = relative(process.cwd(), file) || file
  let committed: string
  try {
    committed = await readFile(file, 'utf8')
  } catch {
    return { ok: false, message: `${name} is missing: run \`npm run openapi\` and commit it.` }
  }
  if (committed === generated) return { ok: true, message: `${name} is up to date.` }
  const want = generated.split('\n')
  const have = committed.split('\n')
  let line = 0
  while (line < want.length && want[line] === have[line]) line += 1
  return {
    ok: false,
    message: [
      `${name} is out of date: the routes give a different OpenAPI document.`,
      `First difference at line ${line + 1}:`,
      `  committed: ${have[line] ?? '(end of file)'}`,
      `  generated: ${want[line] ?? '(end of file)'}`,
      `Run \`npm run openapi\` and commit ${name}.`
    ].join('\n')
  }
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--check')) {
    const result = await checkOpenApi()
    if (result.ok) console.log(result.message)
    else console.error(result.message)
    process.exitCode = result.ok ? 0 : 1
    return
  }
  await writeFile(OPENAPI_FILE, renderOpenApiYaml(await buildOpenApiDocument()))
  console.log(`wrote ${relative(process.cwd(), OPENAPI_FILE)}`)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`openapi: ${(error as Error).stack ?? String(error)}`)
    process.exit(1)
  })
}
