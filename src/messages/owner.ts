/**
 * Who owns a message: the pair (issuer, subject), or (issuer, client) for a client_credentials
 * token that has no `sub`. A typed pair, never a string with a prefix, so that a user whose
 * `sub` happens to read "client:x" can never be taken for client x, nor one issuer's user for
 * another issuer's user with the same `sub`.
 */
import { AuthError } from '../errors.js'
import type { AccessTokenIdentity } from '../token/identity.js'

export interface Owner {
  readonly issuer: string
  readonly kind: 'user' | 'client'
  readonly id: string
}

export function ownerOf(caller: AccessTokenIdentity): Owner {
  if (caller.sub !== undefined) return { issuer: caller.issuer, kind: 'user', id: caller.sub }
  if (caller.clientId !== undefined) return { issuer: caller.issuer, kind: 'client', id: caller.clientId }
  throw new AuthError('ERR_JWT_CLAIM_MISSING', { claim: 'sub', ownership: true, reason: 'no sub and no client id' })
}

/** One string per owner, for maps: distinct owners never share it (JSON keeps the parts apart). */
export function ownerKey(owner: Owner): string {
  return JSON.stringify([owner.issuer, owner.kind, owner.id])
}
