/**
 * Stateless server nonces for DPoP proofs (RFC 9449 §9). A nonce is the keyed MAC of a time
 * step: base64url(HMAC-SHA-256(secret, "dpop-nonce:" + step)), step = floor(now / stepSeconds).
 * Every replica given the same secret (AUTH_DPOP_NONCE_SECRET) issues and accepts the same
 * nonces, with nothing stored or shared. A nonce is accepted in its own step and the next, so
 * that a rotation does not break a client whose proof was made just before it: a nonce lives
 * between one and two steps.
 *
 * The nonce has 43 base64url characters, all NQCHAR (RFC 9449 §8.1), and reveals nothing but
 * that it came from a holder of the secret. The values of the current and previous steps are
 * cached, so that `current()` and `isValid()` compute an HMAC only when the step changes.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

/** Bytes of secret at least (the configuration asks for as much). */
export const MIN_NONCE_SECRET_BYTES = 32
/** Characters of a nonce: base64url of the 32 bytes of HMAC-SHA-256, without padding. */
export const NONCE_LENGTH = 43

export interface DpopNoncesOptions {
  /** Shared by every replica; at least 32 bytes. */
  secret: Buffer
  /** Seconds a step lasts (a nonce is valid for one to two steps). */
  stepSeconds: number
  /** Clock in ms (tests move time). */
  now?: () => number
}

interface Step {
  step: number
  nonce: string
  bytes: Buffer
}

export class DpopNonces {
  readonly #secret: Buffer
  readonly #stepMs: number
  readonly #now: () => number
  #current: Step | undefined
  #previous: Step | undefined

  constructor(options: DpopNoncesOptions) {
    if (!Buffer.isBuffer(options.secret) || options.secret.length < MIN_NONCE_SECRET_BYTES)
      throw new RangeError(`DpopNonces: the secret must be at least ${MIN_NONCE_SECRET_BYTES} bytes`)
    if (!Number.isSafeInteger(options.stepSeconds) || options.stepSeconds < 1)
      throw new RangeError('DpopNonces: stepSeconds must be a positive integer')
    // a copy: a caller reusing its buffer cannot change the nonces
    this.#secret = Buffer.from(options.secret)
    this.#stepMs = options.stepSeconds * 1000
    this.#now = options.now ?? Date.now
  }

  /** The nonce to send now in DPoP-Nonce. */
  current(): string {
    return this.#refresh().nonce
  }

  /**
   * Whether a proof's nonce is current: the nonce of this step or of the previous one. The
   * comparison takes the same time whatever the value (both candidates are always compared);
   * anything that is not a string of the nonce's length is false.
   */
  isValid(nonce: unknown): boolean {
    if (typeof nonce !== 'string' || nonce.length !== NONCE_LENGTH) return false
    const current = this.#refresh()
    const previous = this.#previousOf(current.step)
    const candidate = Buffer.from(nonce, 'utf8')
    // a character outside ASCII makes the bytes longer than any nonce
    if (candidate.length !== NONCE_LENGTH) return false
    const isCurrent = timingSafeEqual(candidate, current.bytes)
    const isPrevious = timingSafeEqual(candidate, previous.bytes)
    return isCurrent || isPrevious
  }

  #stepAt(ms: number): number {
    return Math.floor(ms / this.#stepMs)
  }

  #make(step: number): Step {
    const bytes = Buffer.from(createHmac('sha256', this.#secret).update(`dpop-nonce:${step}`).digest('base64url'), 'utf8')
    return { step, nonce: bytes.toString('utf8'), bytes }
  }

  /** The current step's nonce, computed only when the step has changed. */
  #refresh(): Step {
    const step = this.#stepAt(this.#now())
    const cached = this.#current
    if (cached !== undefined && cached.step === step) return cached
    const made = this.#previous?.step === step ? this.#previous : this.#make(step)
    // keep the one before when it is the previous step (the usual rotation)
    this.#previous = cached !== undefined && cached.step === step - 1 ? cached : this.#previous
    this.#current = made
    return made
  }

  #previousOf(step: number): Step {
    if (this.#previous?.step !== step - 1) this.#previous = this.#make(step - 1)
    return this.#previous
  }
}
