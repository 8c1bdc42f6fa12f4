/**
 * Reading the OpenAPI document in tests: its operations, the scopes one requires, an example
 * body for one, the codes and required headers one of its responses names.
 */
import { expect } from 'vitest'
import type { OpenApiDocument } from '../../src/openapi/document.js'

export type Json = Record<string, unknown>

export interface Operation {
  operationId: string
  summary?: string
  description?: string
  tags?: string[]
  parameters?: Array<{ in: string; name: string; schema?: Json }>
  requestBody?: { content: Record<string, { schema: Json }> }
  security?: Record<string, string[]>[]
  responses: Record<string, Json>
}

export interface DocumentedOperation {
  path: string
  method: string
  operation: Operation
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch']

export function operations(document: OpenApiDocument): DocumentedOperation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ path, method, operation: operation as unknown as Operation }))
  )
}

/** "POST /api/messages (createMessage)" */
export function nameOf({ path, method, operation }: DocumentedOperation): string {
  return `${method.toUpperCase()} ${path} (${operation.operationId})`
}

/** The scopes an operation requires per the document; undefined when it is public. */
export function requiredScopes(operation: Operation): string[] | undefined {
  if (operation.security === undefined) throw new Error(`${operation.operationId} has no security requirement`)
  if (operation.security.length === 0) return undefined
  const oauth2 = operation.security.find((requirement) => 'oauth2' in requirement)?.oauth2
  const bearer = operation.security.find((requirement) => 'bearerAuth' in requirement)?.bearerAuth
  expect(bearer).toEqual(oauth2)
  return oauth2
}

/** The object a `$ref` points at (or the object itself). */
export function resolve(document: OpenApiDocument, value: unknown): Json {
  const ref = (value as { $ref?: unknown }).$ref
  if (typeof ref !== 'string') return value as Json
  const [, kind, name] = /^#\/components\/([^/]+)\/(.+)$/.exec(ref) ?? []
  const target = (document.components[kind ?? ''] as Record<string, Json> | undefined)?.[name ?? '']
  if (target === undefined) throw new Error(`${ref} does not resolve`)
  return target
}

/**
 * A value that satisfies `schema` (resolved in `document`): its first example, or one built from
 * its required members. How the tests make an ordinary request body for any operation, a
 * forker's included, without knowing its fields.
 */
export function exampleOf(document: OpenApiDocument, schema: Json): unknown {
  const resolved = resolve(document, schema)
  if (Array.isArray(resolved.examples) && resolved.examples.length > 0) return resolved.examples[0]
  if (resolved.type === 'object') {
    const properties = (resolved.properties ?? {}) as Record<string, Json>
    return Object.fromEntries(((resolved.required ?? []) as string[]).map((name) => [name, exampleOf(document, properties[name] ?? {})]))
  }
  if (resolved.type === 'array') return []
  if (resolved.type === 'integer' || resolved.type === 'number') return 1
  return 'x'
}

/** The ordinary JSON body of an operation, from its request schema's examples; undefined when it takes none. */
export function exampleBody(document: OpenApiDocument, operation: Operation): unknown {
  const schema = operation.requestBody?.content['application/json']?.schema
  return schema === undefined ? undefined : exampleOf(document, schema)
}

/** The codes an error response shows an example of. */
export function exampleCodes(response: Json): string[] {
  const content = response.content as Record<string, { examples?: Json }> | undefined
  return Object.keys(content?.['application/problem+json']?.examples ?? {})
}

/** Every code an error response names: its examples, and the codes its description lists. */
export function namedCodes(response: Json): string[] {
  const listed = [...String(response.description ?? '').matchAll(/`(ERR_[A-Z0-9_]+)`/g)].map((match) => match[1] ?? '')
  return [...new Set([...exampleCodes(response), ...listed])]
}

/** The names (lower case) of the headers a response says are always sent. */
export function requiredHeaders(document: OpenApiDocument, response: Json): string[] {
  return Object.entries((response.headers ?? {}) as Json)
    .filter(([, header]) => resolve(document, header).required === true)
    .map(([name]) => name.toLowerCase())
}
