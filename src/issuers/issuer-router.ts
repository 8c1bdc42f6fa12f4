/**
 * Routing without trust: a token's UNVERIFIED `iss` (and, for a template, `tid`) only picks
 * which configured issuer will verify it; it never says where keys come from. A token naming
 * any other issuer is refused here, before any network call, with ERR_JWT_ISSUER_INVALID.
 *
 * - an exact entry matches when `iss` equals its issuer string exactly (one Map lookup: no
 *   normalisation, so `https://a/` and `https://a` are different issuers);
 * - a template entry matches when the token has a `tid` that is a tenant id (TENANT_ID), the
 *   tenant is allowed (listed, or `tenants: "*"`), and `iss` equals the template filled with
 *   that `tid`. Entra v1 (`https://sts.windows.net/{tid}/`) and v2
 *   (`https://login.microsoftonline.com/{tid}/v2.0`) are different templates, so a v1 token
 *   never routes to a v2 entry, nor the reverse;
 * - exact entries take precedence over templates; a token that fits two templates is refused.
 *
 * The route is a choice, not a verdict: the chosen issuer's verifier checks the signature with
 * that issuer's keys only, then `iss` (equal to the returned `iss`), `aud` and the rest. For a
 * template entry the checks made here on `tid` hold for the signed payload, as long as the
 * verifier reads the same payload it verifies. Nothing here allocates per tenant: a flood of
 * tokens with made-up tenants creates no state.
 */
import { AuthError } from '../errors.js'
import { TENANT_ID, TENANT_PLACEHOLDER, type ExactIssuer, type TemplateIssuer, type TrustedIssuer } from './issuers-file.js'

export interface IssuerRoute {
  issuer: TrustedIssuer
  /** The token's `iss`, which the chosen issuer's verifier must find in the verified payload. */
  iss: string
}

interface CompiledTemplate {
  entry: TemplateIssuer
  /** The template before and after TENANT_PLACEHOLDER. */
  prefix: string
  suffix: string
}

/** An issuer in a log reason: quoted and bounded (it comes from an unverified token). */
function quoted(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value)
}

function refuse(reason: string): AuthError {
  return new AuthError('ERR_JWT_ISSUER_INVALID', { claim: 'iss', reason })
}

export class IssuerRouter {
  readonly issuers: readonly TrustedIssuer[]
  /**
   * The one issuer that accepts opaque tokens, if any. An opaque token names no issuer, so it
   * cannot be routed by `iss`; the issuers file lets one entry at most accept them.
   */
  readonly opaque: TrustedIssuer | undefined
  readonly #exact = new Map<string, ExactIssuer>()
  readonly #templates: CompiledTemplate[] = []

  constructor(issuers: readonly TrustedIssuer[]) {
    this.issuers = [...issuers]
    const seenTemplates = new Set<string>()
    for (const entry of issuers) {
      if (entry.kind === 'exact') {
        if (this.#exact.has(entry.issuer)) throw new Error(`issuer ${entry.issuer} is configured twice`)
        this.#exact.set(entry.issuer, entry)
      } else {
        const parts = entry.template.split(TENANT_PLACEHOLDER)
        if (parts.length !== 2) throw new Error(`issuer template ${entry.template} must contain ${TENANT_PLACEHOLDER} exactly once`)
        if (seenTemplates.has(entry.template)) throw new Error(`issuer template ${entry.template} is configured twice`)
        seenTemplates.add(entry.template)
        this.#templates.push({ entry, prefix: parts[0] ?? '', suffix: parts[1] ?? '' })
      }
    }
    const opaque = issuers.filter((entry) => entry.auth.formats.includes('opaque'))
    if (opaque.length > 1) throw new Error('only one issuer may accept opaque tokens (they name no issuer)')
    this.opaque = opaque[0]
  }

  /**
   * The configured issuer a token's unverified payload names, and its `iss`; throws an
   * AuthError ERR_JWT_ISSUER_INVALID (401 invalid_token) when it names none (the reason, for
   * the logs, says why).
   */
  route(unverifiedPayload: Record<string, unknown>): IssuerRoute {
    const iss = unverifiedPayload.iss
    if (typeof iss !== 'string') throw refuse(iss === undefined ? 'iss missing' : 'iss is not a string')
    const exact = this.#exact.get(iss)
    if (exact !== undefined) return { issuer: exact, iss }
    if (this.#templates.length === 0) throw refuse(`iss ${quoted(iss)} is not a configured issuer`)
    return { issuer: this.#routeTemplate(iss, unverifiedPayload.tid), iss }
  }

  #routeTemplate(iss: string, tid: unknown): TemplateIssuer {
    let found: TemplateIssuer | undefined
    let why: string | undefined
    for (const { entry, prefix, suffix } of this.#templates) {
      // Does iss have this template's form, one path segment in place of the placeholder?
      if (iss.length <= prefix.length + suffix.length || !iss.startsWith(prefix) || !iss.endsWith(suffix)) continue
      const segment = iss.slice(prefix.length, iss.length - suffix.length)
      if (segment.includes('/')) continue
      const template = quoted(entry.template)
      if (tid === undefined) {
        why ??= `iss ${quoted(iss)} has the form of template ${template} but the token has no tid`
      } else if (typeof tid !== 'string' || !TENANT_ID.test(tid)) {
        why ??= `the token's tid is not a tenant id (template ${template})`
      } else if (segment !== tid) {
        why ??= `iss ${quoted(iss)} is not template ${template} filled with the token's tid ${quoted(tid)}`
      } else if (entry.tenants !== 'any' && !entry.tenants.has(tid)) {
        why ??= `tenant ${quoted(tid)} is not allowed by template ${template}`
      } else if (found !== undefined) {
        throw refuse(`iss ${quoted(iss)} fits templates ${quoted(found.template)} and ${template}`)
      } else {
        found = entry
      }
    }
    if (found !== undefined) return found
    throw refuse(why ?? `iss ${quoted(iss)} is not a configured issuer`)
  }
}
