/**
 * Response headers. A route declares the headers an answer carries in its response schema,
 * `headers: { Name: <JSON schema with a description> }`, and the document shows exactly those:
 * nothing adds a header to an answer that does not declare it. A header schema with an `$id` is
 * shared: `#/components/headers/<$id>`. The two below are the shared ones; the error answers
 * (./error-responses.ts) send them, and a route that sends one itself declares it with these.
 */
import { problem } from '../http/problem.js'
import { componentize, register, type Components } from './components.js'
import type { JsonObject } from './json.js'

const EXAMPLE_REALM = 'https://api.example.com'
const EXAMPLE_CHALLENGE =
  `Bearer realm="${EXAMPLE_REALM}", error="invalid_token", error_description="${problem('ERR_JWT_EXPIRED').detail}", ` +
  `resource_metadata="${EXAMPLE_REALM}/.well-known/oauth-protected-resource", ` +
  `DPoP algs="ES256 EdDSA RS256 PS256", resource_metadata="${EXAMPLE_REALM}/.well-known/oauth-protected-resource"`

/** The Bearer and DPoP challenges (RFC 6750 §3, RFC 9449 §7.1) of a refusal of the credentials. */
export const WwwAuthenticateHeader = {
  $id: 'WWW-Authenticate',
  type: 'string',
  description:
    'The challenges (RFC 6750 §3, RFC 9449 §7.1): `Bearer` with `realm`, and `DPoP` with `algs` (the proof algorithms), each while its scheme is accepted; the challenge of the scheme the request used comes first and carries `error`, `error_description` and (403) `scope`; both name `resource_metadata` (RFC 9728). With DPoP server nonces on, a `use_dpop_nonce` refusal comes with the nonce in `DPoP-Nonce`.',
  examples: [EXAMPLE_CHALLENGE]
} as const

/** How long to wait before retrying a 503. */
export const RetryAfterHeader = {
  $id: 'Retry-After',
  type: 'integer',
  minimum: 0,
  description: 'Seconds to wait before retrying.',
  examples: [5]
} as const

/** Said of a header that only some of an answer's reasons send. */
const OPTIONAL = 'Sent only for the reasons above that name it.'

/**
 * The OpenAPI header object of a declared header: sent on every such answer (`required`) unless
 * `required` is false. A required header whose schema has an `$id` is a reference to the shared
 * component; an optional one is written out, since a reference cannot change `required`.
 */
export function headerObject(schema: JsonObject, components: Components, required = true): JsonObject {
  const { $id, description, ...rest } = schema
  const said = [typeof description === 'string' ? description : undefined, required ? undefined : OPTIONAL].filter(
    (part) => part !== undefined
  )
  const header: JsonObject = {
    ...(said.length > 0 ? { description: said.join(' ') } : {}),
    required,
    schema: componentize(rest, components)
  }
  return typeof $id === 'string' && required ? register(components, 'headers', $id, header, 'header $id') : header
}
