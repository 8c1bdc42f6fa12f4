/**
 * DPoP mode (RFC 9449): the switch, kept in sessionStorage so that it survives the trip to the
 * issuer and back (and only while it is on: in Bearer mode the app stores nothing), and the key
 * the tokens are bound to. The key pair is made with WebCrypto at the callback, in memory only,
 * and its private key is non-extractable: scripts of this page can sign with it, nobody can read
 * it, and a reload forgets it together with the tokens.
 */
import * as oauth from 'oauth4webapi'

const MODE_KEY = 'demo-spa:dpop'

export function dpopModeOn(): boolean {
  return sessionStorage.getItem(MODE_KEY) === 'on'
}

export function setDpopMode(on: boolean): void {
  if (on) sessionStorage.setItem(MODE_KEY, 'on')
  else sessionStorage.removeItem(MODE_KEY)
}

export interface DpopKey {
  /** oauth4webapi's handle: makes a fresh proof per request and keeps the servers' nonces. */
  handle: oauth.DPoPHandle
  /** What the page may say about the key: never the private key itself. */
  algorithm: string
  privateKeyExtractable: boolean
  /** RFC 7638 SHA-256 thumbprint of the public key: what the token's `cnf.jkt` must be. */
  thumbprint: string
}

/** A fresh ECDSA P-256 key pair (ES256) whose private key cannot be exported. */
export async function createDpopKey(client: oauth.Client): Promise<DpopKey> {
  const keyPair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
  if (keyPair.privateKey.extractable) throw new Error('the DPoP private key must not be extractable')
  const handle = oauth.DPoP(client, keyPair)
  return {
    handle,
    algorithm: 'ECDSA P-256 (ES256)',
    privateKeyExtractable: keyPair.privateKey.extractable,
    thumbprint: await handle.calculateThumbprint()
  }
}

/**
 * Runs a request once more when the server answered that the proof needs its (new) nonce
 * (`use_dpop_nonce`, RFC 9449 §8, §9): oauth4webapi has kept the nonce from that answer, so the
 * second proof carries it. Without DPoP, or for any other error, the first outcome stands.
 */
export async function retryOnNonce<T>(dpop: DpopKey | undefined, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    if (dpop === undefined || !oauth.isDPoPNonceError(error)) throw error
    return run()
  }
}
