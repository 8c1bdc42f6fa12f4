/**
 * Reusable parts of the document, each named once: a schema with an `$id` becomes
 * `#/components/schemas/<$id>`, a header schema with an `$id` `#/components/headers/<$id>`, an
 * error example `#/components/examples/<code>`. Two different values under one name are a
 * mistake in the routes, refused when the document is built.
 */
import { isDeepStrictEqual } from 'node:util'
import { clone, isObject, type JsonObject } from './json.js'

/** The component maps the builder fills while it describes the routes. */
export interface Components {
  schemas: Record<string, JsonObject>
  headers: Record<string, JsonObject>
  examples: Record<string, JsonObject>
}

export type ComponentKind = keyof Components

const COMPONENT_NAME = /^[A-Za-z0-9._-]+$/
/** Keywords whose value is data, not a schema. */
const DATA_KEYWORDS: ReadonlySet<string> = new Set(['examples', 'example', 'enum', 'const', 'default', 'required'])
/** Keywords whose value maps names to schemas. */
const SCHEMA_MAP_KEYWORDS: ReadonlySet<string> = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'])

export function refTo(kind: ComponentKind, name: string): { $ref: string } {
  return { $ref: `#/components/${kind}/${name}` }
}

/**
 * Puts `value` in `components[kind][name]` (once: the same name twice must be the same value)
 * and returns its reference. `source` says where the name comes from, for the error.
 */
export function register(components: Components, kind: ComponentKind, name: string, value: JsonObject, source = 'name'): { $ref: string } {
  if (!COMPONENT_NAME.test(name)) throw new Error(`${source} "${name}" cannot name an OpenAPI component (letters, digits, . _ - only)`)
  const existing = components[kind][name]
  if (existing !== undefined && !isDeepStrictEqual(existing, value)) throw new Error(`two different ${kind} have the ${source} "${name}"`)
  components[kind][name] = value
  return refTo(kind, name)
}

/**
 * A deep copy of `schema` in which every subschema with an `$id` is replaced by a reference to
 * `#/components/schemas/<$id>`, the subschema itself (without `$id`) being put there.
 */
export function componentize(schema: unknown, components: Components): unknown {
  if (Array.isArray(schema)) return schema.map((item) => componentize(item, components))
  if (!isObject(schema)) return schema
  const copy: JsonObject = {}
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$id') continue
    if (DATA_KEYWORDS.has(key)) copy[key] = clone(value)
    else if (SCHEMA_MAP_KEYWORDS.has(key) && isObject(value)) {
      copy[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, componentize(sub, components)]))
    } else copy[key] = componentize(value, components)
  }
  const id = schema.$id
  return typeof id === 'string' ? register(components, 'schemas', id, copy, '$id') : copy
}
