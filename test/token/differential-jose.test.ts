/**
 * Differential test against a reference (issue: "Proof that the hand-written verifier is at
 * least as strict as a reference"). Valid access tokens, signed at test time with RS256, PS256,
 * ES256, EdDSA and HS256 keys, are mutated — header and payload members, the JSON text, the
 * base64url segments, the signature, the number of segments — and mutated contents are signed
 * again with the right key, so that the checks after the signature are reached. Each token is
 * verified by the project's verifier and by jose's jwtVerify under the same policy: the same
 * issuer, audiences, algorithms, clock tolerance, required claims, key set (the JWKS the
 * project's key store fetched) and clock.
 *
 * The property: the project never accepts a token jose refuses (JOSE_STRICTER lists the
 * deliberate exceptions; there are none under the shared policy). Where the project refuses a
 * token jose accepts, its refusal must be one of the rules listed in PROJECT_STRICTER, each with
 * its reason, so that a new kind of divergence is noticed and explained.
 */
import { constants, sign as cryptoSign } from 'node:crypto'
import fc from 'fast-check'
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { isAuthError, type AuthErrorCode } from '../../src/errors.js'
import { checkSenderConstraint } from '../../src/token/access-token-claims.js'
import { derFromJoseEcdsa } from '../../src/token/signature.js'
import { makeKey, type TestKey } from '../helpers/keys.js'
import { b64url, signBytes, type HmacKey, type SigningKey } from '../helpers/jwt-sign.js'
import { AUDIENCE, CLIENT_ID, startTestApi, type TestApi } from '../helpers/test-api.js'

// ------------------------------------------------------------------ the shared policy

const SECOND_AUDIENCE = 'urn:second-api'
const HS_SECRET = 'differential-test-shared-secret-0123456789'
const POLICY = {
  algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA', 'HS256'],
  audiences: [AUDIENCE, SECOND_AUDIENCE],
  clockTolerance: 5,
  /** What the project requires under AUTH_TOKEN_PROFILE=auto (claims.ts). */
  requiredClaims: ['iss', 'aud', 'exp']
}
/**
 * Both verifiers read one clock, frozen on a whole second: jose reads `currentDate` in whole
 * seconds (it floors it), the project in milliseconds (see the clock-granularity test below).
 */
const NOW = Math.floor(Date.now() / 1000)
const RUNS = 1000

/**
 * Tokens the project may accept although jose refuses them, each with its reason. None under
 * the shared policy: where jose could be stricter by policy, the policy is mirrored instead —
 * - jose refuses a kid-less token that two keys of the set could verify
 *   (ERR_JWKS_MULTIPLE_MATCHING_KEYS) unless its caller tries each candidate; the reference does
 *   so the way jose documents it (for await over the error), as the project tries each key;
 * - jose floors `currentDate` to whole seconds: the clock is frozen on a whole second (the one
 *   difference this leaves, by less than a second, is shown in the clock-granularity test).
 */
const JOSE_STRICTER: ReadonlyArray<{ reason: string; applies: (token: string, joseCode: string) => boolean }> = []

/** Project refusals of tokens jose accepts: deliberate, each with its reason. */
const PROJECT_STRICTER: Partial<Record<AuthErrorCode, string>> = {
  ERR_TOKEN_MALFORMED:
    'strict decoding: base64url without padding (RFC 7515 §2) and with canonical trailing bits (jose decodes with atob, which forgives both); ' +
    'JSON without duplicate member names (RFC 7515 §5.2 and RFC 7519 §4 allow refusing them or keeping the last, as jose does); ' +
    'kid and typ must be strings; the b64 header is refused outright (jose ignores it unless crit names it)',
  ERR_MULTIPLE_CREDENTIALS: 'white space or a comma in a token breaks the RFC 6750 b64token syntax (atob skips white space)',
  ERR_TOKEN_NOT_JWT:
    'a token whose header does not decode to "{" after JSON white space is not read as a JWS (looksLikeCompactJws): a header starting with a BOM; jose parses it',
  ERR_JWS_CRIT_UNSUPPORTED: 'every crit is refused; jose understands crit ["b64"], and with b64 true the token is an ordinary JWT to it',
  ERR_JWT_CLAIM_INVALID:
    'claim types: aud members must be strings, NumericDates finite (1e400 parses to Infinity), sub/client_id/azp/jti/scope strings; jose only checks that exp/nbf/iat are numbers',
  ERR_JWT_ISSUED_IN_FUTURE: 'iat in the future (beyond the tolerance) is refused; jose checks iat only with maxTokenAge',
  ERR_ID_TOKEN_NOT_ACCESS_TOKEN:
    'token classification (RFC 9068, RFC 8725 §3.11): ID tokens are refused; jose checks typ only when asked and knows no ID-token claims',
  ERR_NOT_ACCESS_TOKEN: 'token classification: other kinds of JWT (dpop+jwt, logout, refresh...) are refused',
  ERR_TOKEN_SENDER_CONSTRAINED: 'a token bound to a key (cnf) is refused with the Bearer scheme (RFC 9449 §7.2)',
  ERR_TOKEN_TOO_LARGE: 'the token length is bounded',
  ERR_JWS_SIGNATURE_INVALID:
    'an RSA signature must be exactly as long as the modulus (RFC 8017 §8.1.2 and §8.2.2, step 1); OpenSSL, and so jose, takes one sent without its leading zero byte'
}

// ------------------------------------------------------------------ recipes

/** A JSON value written exactly as this text (numbers JSON.stringify cannot write: 1e400, 1.0, -0). */
class Raw {
  constructor(readonly text: string) {}
  [fc.toStringMethod](): string {
    return `Raw(${this.text})`
  }
}

type Member = [name: string, value: unknown]
type Op = { set: string; value: unknown } | { remove: string }

const FRAMES = [
  'bom',
  'leading-space',
  'break-after-brace',
  'trailing-space',
  'array',
  'garbage',
  'second-object',
  'trailing-comma',
  'truncated',
  'invalid-utf8',
  'overlong-utf8',
  'raw-control-char',
  'lone-surrogate',
  'non-ascii-member'
] as const
type Frame = (typeof FRAMES)[number]

interface TextStyle {
  space: '' | ' ' | '\r\n ' | '\n\t'
  /** Member names written with \u escapes: none, the first character, or all. */
  escapeNames: 'none' | 'first' | 'all'
  /** String values written entirely as \u escapes. */
  escapeStrings: boolean
  /** A member written twice: same or other value, plain or escaped name, before or after. */
  duplicate: { index: number; escaped: boolean; sameValue: boolean; before: boolean } | null
  frame: Frame | null
}

const SEGMENT_OPS = ['pad', 'trailing-bits', 'standard-alphabet', 'drop', 'insert', 'swap-case', 'empty'] as const
interface SegmentOp {
  kind: (typeof SEGMENT_OPS)[number]
  at: number
  char: string
}

const SIGNATURE_OPS = ['flip', 'truncate', 'append-zero', 'prepend-zero', 'zeros', 'high-s', 'der', 'empty'] as const
interface SignatureOp {
  kind: (typeof SIGNATURE_OPS)[number]
  at: number
  bit: number
}

/**
 * How the signature is made: 'resign' with the key, in the header's algorithm when the key can
 * make it (else its own); 'key-alg' in the key's own algorithm whatever the header says;
 * 'stale' the signature of the token before mutation; 'stranger' a key of the same type the
 * issuer does not publish; 'public-pem-hmac' HS256 keyed with the RS256 key's public PEM (alg
 * confusion); 'pss-salt-0' / 'pss-salt-max' RSA-PSS with another salt length; 'unsigned' none.
 */
const SIGNINGS = ['resign', 'key-alg', 'stale', 'stranger', 'public-pem-hmac', 'pss-salt-0', 'pss-salt-max', 'unsigned'] as const
type Signing = (typeof SIGNINGS)[number]

const SHAPES = [
  'two-parts',
  'four-parts',
  'trailing-dot',
  'leading-dot',
  'five-parts',
  'empty-payload',
  'header-twice',
  'swap-header-payload'
] as const
type Shape = (typeof SHAPES)[number]

const KEY_NAMES = ['RS256', 'PS256', 'ES256', 'EdDSA', 'HS256', 'ES256-second', 'RSA-any-alg'] as const
type KeyName = (typeof KEY_NAMES)[number]

interface Recipe {
  key: KeyName
  header: Op[]
  payload: Op[]
  headerText: TextStyle
  payloadText: TextStyle
  headerSegment: SegmentOp | null
  payloadSegment: SegmentOp | null
  signing: Signing
  signature: SignatureOp | null
  signatureSegment: SegmentOp | null
  shape: Shape | null
}

const PLAIN: TextStyle = { space: '', escapeNames: 'none', escapeStrings: false, duplicate: null, frame: null }

function recipe(overrides: Partial<Recipe> = {}): Recipe {
  return {
    key: 'RS256',
    header: [],
    payload: [],
    headerText: PLAIN,
    payloadText: PLAIN,
    headerSegment: null,
    payloadSegment: null,
    signing: 'resign',
    signature: null,
    signatureSegment: null,
    shape: null,
    ...overrides
  }
}

// ------------------------------------------------------------------ building a token

const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
const B64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

function escapeAll(text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i++) out += `\\u${text.charCodeAt(i).toString(16).padStart(4, '0')}`
  return `"${out}"`
}

function nameText(name: string, how: TextStyle['escapeNames']): string {
  if (how === 'none' || name === '') return JSON.stringify(name)
  if (how === 'all') return escapeAll(name)
  return `"${escapeAll(name.slice(0, 1)).slice(1, -1)}${JSON.stringify(name.slice(1)).slice(1, -1)}"`
}

function valueText(value: unknown, escapeStrings: boolean): string {
  if (value instanceof Raw) return value.text
  if (typeof value === 'string') return escapeStrings ? escapeAll(value) : JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map((item) => valueText(item, escapeStrings)).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${valueText(v, escapeStrings)}`)
      .join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** The JSON text of an object given as members (duplicates allowed), as UTF-8 bytes. */
function serialize(members: Member[], style: TextStyle): Buffer {
  const sp = style.space
  const written = members.map(([name, value]) => `${nameText(name, style.escapeNames)}${sp}:${sp}${valueText(value, style.escapeStrings)}`)
  const duplicated = members[(style.duplicate?.index ?? 0) % Math.max(1, members.length)]
  if (style.duplicate !== null && duplicated !== undefined) {
    const [name, value] = duplicated
    const other = typeof value === 'string' ? `${value}-duplicate` : 'duplicate'
    const member = `${nameText(name, style.duplicate.escaped ? 'all' : 'none')}${sp}:${sp}${valueText(style.duplicate.sameValue ? value : other, false)}`
    if (style.duplicate.before) written.unshift(member)
    else written.push(member)
  }
  const text = `{${written.join(`,${sp}`)}}`
  const open = text.slice(0, -1) + (written.length > 0 ? ',' : '')
  switch (style.frame) {
    case null:
      return Buffer.from(text)
    case 'bom':
      return Buffer.from(`\uFEFF${text}`)
    case 'leading-space':
      return Buffer.from(` ${text}`)
    case 'break-after-brace':
      return Buffer.from(`{\r\n ${text.slice(1)}`)
    case 'trailing-space':
      return Buffer.from(`${text} \n`)
    case 'array':
      return Buffer.from(`[${text}]`)
    case 'garbage':
      return Buffer.from(`${text}x`)
    case 'second-object':
      return Buffer.from(`${text}{}`)
    case 'trailing-comma':
      return Buffer.from(`${open}}`)
    case 'truncated':
      return Buffer.from(text.slice(0, -1))
    case 'invalid-utf8':
      return Buffer.concat([Buffer.from(`${open}"x":"`), Buffer.from([0xff]), Buffer.from('"}')])
    case 'overlong-utf8':
      return Buffer.concat([Buffer.from(`${open}"x":"`), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])
    case 'raw-control-char':
      return Buffer.from(`${open}"x":"a\u0001b"}`)
    case 'lone-surrogate':
      return Buffer.from(`${open}"x":"\\ud800"}`)
    case 'non-ascii-member':
      return Buffer.from(`${open}"\u00e9\u2019":"\u{1F600}"}`)
  }
}

function applyOps(members: Member[], ops: Op[]): Member[] {
  const out = members.map(([name, value]): Member => [name, value])
  for (const op of ops) {
    if ('remove' in op) {
      for (let i = out.length - 1; i >= 0; i--) if (out[i]?.[0] === op.remove) out.splice(i, 1)
      continue
    }
    const existing = out.find(([name]) => name === op.set)
    if (existing !== undefined) existing[1] = op.value
    else out.push([op.set, op.value])
  }
  return out
}

function mutateSegment(segment: string, op: SegmentOp | null): string {
  if (op === null) return segment
  const at = segment.length === 0 ? 0 : op.at % segment.length
  switch (op.kind) {
    case 'pad':
      return segment + '='.repeat((4 - (segment.length % 4)) % 4 || 1)
    case 'trailing-bits': {
      const unused = [0, 0, 0b1111, 0b11][segment.length % 4] ?? 0
      if (unused === 0) return segment
      const last = B64URL_ALPHABET.indexOf(segment.slice(-1))
      return segment.slice(0, -1) + (B64URL_ALPHABET[last | unused] ?? '')
    }
    case 'standard-alphabet':
      return segment.replace(/-/g, '+').replace(/_/g, '/')
    case 'drop':
      return segment.slice(0, at) + segment.slice(at + 1)
    case 'insert':
      return segment.slice(0, at) + op.char + segment.slice(at)
    case 'swap-case': {
      const c = segment[at] ?? ''
      const swapped = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()
      return segment.slice(0, at) + swapped + segment.slice(at + 1)
    }
    case 'empty':
      return ''
  }
}

function mutateSignature(signature: Buffer, op: SignatureOp | null): Buffer {
  if (op === null) return signature
  const out = Buffer.from(signature)
  switch (op.kind) {
    case 'flip':
      if (out.length > 0) out[op.at % out.length] = (out[op.at % out.length] ?? 0) ^ (1 << op.bit)
      return out
    case 'truncate':
      return out.subarray(0, Math.max(0, out.length - 1))
    case 'append-zero':
      return Buffer.concat([out, Buffer.alloc(1)])
    case 'prepend-zero':
      return Buffer.concat([Buffer.alloc(1), out])
    case 'zeros':
      return Buffer.alloc(out.length)
    case 'high-s': {
      // ECDSA malleability: (r, n - s) verifies as (r, s) does; neither verifier normalises s
      if (out.length !== 64) return out
      const s = BigInt(`0x${out.subarray(32).toString('hex')}`)
      return Buffer.concat([out.subarray(0, 32), Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex')])
    }
    case 'der':
      return out.length === 64 ? derFromJoseEcdsa(out) : out
    case 'empty':
      return Buffer.alloc(0)
  }
}

function reshape(token: string, shape: Shape | null): string {
  const [h = '', p = '', s = ''] = token.split('.')
  switch (shape) {
    case null:
      return token
    case 'two-parts':
      return `${h}.${p}`
    case 'four-parts':
      return `${token}.${s}`
    case 'trailing-dot':
      return `${token}.`
    case 'leading-dot':
      return `.${token}`
    case 'five-parts':
      return `${h}.${p}.${s}.${p}.${s}`
    case 'empty-payload':
      return `${h}..${s}`
    case 'header-twice':
      return `${h}.${h}.${p}.${s}`
    case 'swap-header-payload':
      return `${p}.${h}.${s}`
  }
}

/** Whether `key` can make a signature under `alg`. */
function canSign(key: SigningKey, alg: unknown): alg is string {
  if (typeof alg !== 'string') return false
  if ('secret' in key) return /^HS(256|384|512)$/.test(alg)
  switch (key.publicJwk.kty) {
    case 'RSA':
      return /^(RS|PS)(256|384|512)$/.test(alg)
    case 'EC':
      return alg === key.alg
    default:
      return alg === 'EdDSA' || alg === 'Ed25519'
  }
}

// ------------------------------------------------------------------ verdicts

type Verdict = { accepted: true } | { accepted: false; code: string }
type Outcome = 'both accept' | 'both refuse' | `project stricter: ${AuthErrorCode}`

function codeOf(error: unknown): string {
  if (error instanceof errors.JOSEError) return error.code
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

describe('the project never accepts a token jose refuses', () => {
  let api: TestApi
  let referenceKeys: ReturnType<typeof createLocalJWKSet>
  let signers: Record<KeyName, SigningKey>
  let strangers: { RSA: TestKey; EC: TestKey; OKP: TestKey; oct: HmacKey }
  const tally = new Map<string, number>()

  beforeAll(async () => {
    vi.setSystemTime(NOW * 1000) // Date only; timers stay real
    api = await startTestApi({
      algs: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      fakeClock: true,
      env: {
        AUTH_AUDIENCE: POLICY.audiences.join(','),
        AUTH_ALGORITHMS: POLICY.algorithms.join(','),
        AUTH_HS_SECRET: HS_SECRET,
        AUTH_CLOCK_TOLERANCE: String(POLICY.clockTolerance)
      }
    })
    // Two more keys: a second ES256 key (a kid-less ES256 token has two candidates) and an RSA
    // key without "alg" (it may verify RS256 and PS256 alike).
    const secondEs = makeKey('ES256')
    const rsaAnyAlg = makeKey('RS256', { includeAlg: false })
    api.issuer.setKeys([...api.keys, secondEs, rsaAnyAlg])
    await api.app.keyStore.refresh('differential test keys')
    expect(api.app.keyStore.keyCount).toBe(6)
    // the same document the key store fetched
    const jwks = (await (await fetch(api.issuer.jwksUri)).json()) as JSONWebKeySet
    expect(jwks.keys).toHaveLength(6)
    referenceKeys = createLocalJWKSet(jwks)

    const [rs, ps, es, ed] = api.keys as [TestKey, TestKey, TestKey, TestKey]
    signers = {
      RS256: rs,
      PS256: ps,
      ES256: es,
      EdDSA: ed,
      HS256: { secret: HS_SECRET, alg: 'HS256' },
      'ES256-second': secondEs,
      'RSA-any-alg': rsaAnyAlg
    }
    strangers = {
      RSA: makeKey('RS256', { fresh: true, kid: 'stranger-rsa' }),
      EC: makeKey('ES256', { kid: 'stranger-ec' }),
      OKP: makeKey('EdDSA', { kid: 'stranger-okp' }),
      oct: { secret: 'another-shared-secret-of-enough-length-0123', alg: 'HS256' }
    }
  })

  afterAll(async () => {
    vi.useRealTimers()
    await api?.close()
  })

  const baseHeader = (key: SigningKey): Member[] =>
    'secret' in key
      ? [
          ['alg', key.alg],
          ['typ', 'at+jwt']
        ]
      : [
          ['alg', key.alg],
          ['typ', 'at+jwt'],
          ['kid', key.kid]
        ]

  const basePayload = (): Member[] => [
    ['iss', api.issuer.url],
    ['sub', 'user-1'],
    ['aud', AUDIENCE],
    ['iat', NOW],
    ['exp', NOW + 300],
    ['jti', 'jti-1'],
    ['client_id', CLIENT_ID],
    ['scope', 'read:messages write:messages']
  ]

  function signatureFor(signing: Signing, key: SigningKey, input: string, headerAlg: unknown, staleInput: string): Buffer {
    const alg = canSign(key, headerAlg) ? headerAlg : key.alg
    switch (signing) {
      case 'resign':
        return signBytes(key, input, alg)
      case 'key-alg':
        return signBytes(key, input, key.alg)
      case 'stale':
        return signBytes(key, staleInput, key.alg)
      case 'stranger': {
        const stranger = 'secret' in key ? strangers.oct : strangers[key.publicJwk.kty as 'RSA' | 'EC' | 'OKP']
        return signBytes(stranger, input, canSign(stranger, alg) ? alg : stranger.alg)
      }
      case 'public-pem-hmac':
        return signBytes(signers.RS256, input, 'HS256')
      case 'pss-salt-0':
      case 'pss-salt-max': {
        if ('secret' in key || key.publicJwk.kty !== 'RSA') return signBytes(key, input, alg)
        const saltLength = signing === 'pss-salt-0' ? 0 : constants.RSA_PSS_SALTLEN_MAX_SIGN
        return cryptoSign('sha256', Buffer.from(input), { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength })
      }
      case 'unsigned':
        return Buffer.alloc(0)
    }
  }

  function build(r: Recipe): string {
    const key = signers[r.key]
    const header = applyOps(baseHeader(key), r.header)
    const payload = applyOps(basePayload(), r.payload)
    const h = mutateSegment(b64url(serialize(header, r.headerText)), r.headerSegment)
    const p = mutateSegment(b64url(serialize(payload, r.payloadText)), r.payloadSegment)
    const staleInput = `${b64url(serialize(baseHeader(key), PLAIN))}.${b64url(serialize(basePayload(), PLAIN))}`
    const headerAlg = header.find(([name]) => name === 'alg')?.[1]
    const signature = mutateSignature(signatureFor(r.signing, key, `${h}.${p}`, headerAlg, staleInput), r.signature)
    return reshape(`${h}.${p}.${mutateSegment(b64url(signature), r.signatureSegment)}`, r.shape)
  }

  async function projectVerdict(token: string): Promise<Verdict> {
    try {
      // as the gate holds it against the Bearer scheme: a key-bound token is refused (RFC 9449 §7.2)
      const identity = await api.app.verifier.verify(token)
      checkSenderConstraint(identity.claims as Record<string, unknown>, identity.format)
      return { accepted: true }
    } catch (error) {
      if (!isAuthError(error)) throw error // anything but a refusal is a crash
      return { accepted: false, code: error.code }
    }
  }

  async function referenceVerdict(token: string, currentDate = new Date(NOW * 1000)): Promise<Verdict> {
    const options: JWTVerifyOptions = {
      issuer: api.issuer.url,
      audience: POLICY.audiences,
      algorithms: POLICY.algorithms,
      clockTolerance: POLICY.clockTolerance,
      requiredClaims: POLICY.requiredClaims,
      currentDate
    }
    const secret = new TextEncoder().encode(HS_SECRET)
    const getKey: JWTVerifyGetKey = async (header, jws) => (header.alg === 'HS256' ? secret : referenceKeys(header, jws))
    try {
      await jwtVerify(token, getKey, options)
      return { accepted: true }
    } catch (error) {
      if (!(error instanceof errors.JWKSMultipleMatchingKeys)) return { accepted: false, code: codeOf(error) }
      // jose's documented way through several candidate keys: try each
      for await (const key of error) {
        try {
          await jwtVerify(token, key, options)
          return { accepted: true }
        } catch (inner) {
          if (inner instanceof errors.JWSSignatureVerificationFailed) continue
          return { accepted: false, code: codeOf(inner) }
        }
      }
      return { accepted: false, code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' }
    }
  }

  /** Verifies `token` both ways, checks the property, and returns the outcome. */
  async function compare(token: string): Promise<Outcome> {
    const [project, reference] = await Promise.all([projectVerdict(token), referenceVerdict(token)])
    if (project.accepted && !reference.accepted) {
      const excused = JOSE_STRICTER.some((exception) => exception.applies(token, reference.code))
      expect(excused, `the project accepts a token jose refuses (${reference.code}): ${token}`).toBe(true)
    }
    let outcome: Outcome
    if (project.accepted) outcome = 'both accept'
    else if (!reference.accepted) outcome = 'both refuse'
    else {
      expect(
        PROJECT_STRICTER,
        `the project refuses (${project.code}) a token jose accepts, for a reason not listed in PROJECT_STRICTER: ${token}`
      ).toHaveProperty(project.code)
      outcome = `project stricter: ${project.code as AuthErrorCode}`
    }
    tally.set(outcome, (tally.get(outcome) ?? 0) + 1)
    return outcome
  }

  // ---------------------------------------------------------------- arbitraries

  /** `arb` once in `1 + weight` draws, null otherwise. */
  function rarely<T>(arb: fc.Arbitrary<T>, weight: number): fc.Arbitrary<T | null> {
    return fc.oneof({ arbitrary: fc.constant(null), weight }, { arbitrary: arb, weight: 1 })
  }

  function recipes(): fc.Arbitrary<Recipe> {
    const kids = Object.values(signers).flatMap((key) => ('kid' in key ? [key.kid] : []))
    const hostile = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(null, true, 0, -1, 1.5, '', 'x', [], {}, [null], { a: 1 }, new Raw('1e400'), new Raw('-0'), new Raw('1.0'))
    )
    const set = (name: string, values: fc.Arbitrary<unknown>): fc.Arbitrary<Op> => values.map((value) => ({ set: name, value }))
    const remove = (...names: string[]): fc.Arbitrary<Op> => fc.constantFrom(...names).map((name) => ({ remove: name }))

    const headerOp: fc.Arbitrary<Op> = fc.oneof(
      set(
        'alg',
        fc.constantFrom(
          'RS256',
          'PS256',
          'ES256',
          'EdDSA',
          'HS256',
          'RS384',
          'PS512',
          'ES384',
          'ES512',
          'HS512',
          'Ed25519',
          'none',
          'None',
          'NONE',
          'rs256',
          'RS256 ',
          '',
          'RS256\u0000',
          null,
          256,
          ['RS256'],
          {}
        )
      ),
      set(
        'typ',
        fc.constantFrom(
          'at+jwt',
          'JWT',
          'jwt',
          'application/at+jwt',
          'AT+JWT',
          'application/jwt',
          'id_token+jwt',
          'dpop+jwt',
          'logout+jwt',
          'secevent+jwt',
          'x',
          '',
          null,
          1,
          ['at+jwt']
        )
      ),
      set(
        'kid',
        fc.oneof(
          fc.constantFrom(...kids),
          fc.constantFrom(...kids).map((kid) => kid.toUpperCase()),
          fc.constantFrom('unknown-kid', 'stranger-rsa', '', ' ', 1, null, true, [kids[0]], {})
        )
      ),
      set('crit', fc.constantFrom([], ['b64'], ['exp'], ['alg'], ['kid'], 'b64', [1], ['b64', 'b64'], [''], null)),
      set('b64', fc.constantFrom(true, false, 'false', 0, null)),
      fc
        .tuple(
          fc.constantFrom(
            'jku',
            'jwk',
            'x5u',
            'x5c',
            'x5t',
            'x5t#S256',
            'cty',
            'zip',
            'enc',
            'epk',
            'url',
            'nonce',
            '__proto__',
            'constructor',
            'iss',
            'exp',
            'http://example.com/ext'
          ),
          hostile
        )
        .map(([name, value]) => ({ set: name, value })),
      remove('alg', 'typ', 'kid')
    )

    const time = fc.oneof(
      fc.integer({ min: -12, max: 12 }).map((d) => NOW + d),
      fc.integer({ min: -12, max: 12 }).map((d) => NOW + d + 0.5),
      fc.double({ min: NOW - 20, max: NOW + 20, noNaN: true }),
      fc.constantFrom(
        NOW + 300,
        NOW - 300,
        0,
        -1,
        1e20,
        -1e20,
        Number.MAX_SAFE_INTEGER,
        2 ** 53 + 1,
        Number.MAX_VALUE,
        -Number.MAX_VALUE,
        Number.MIN_VALUE
      ),
      fc.constantFrom(
        new Raw('1e400'),
        new Raw('-1e400'),
        new Raw(`${NOW + 300}.0`),
        new Raw(`${NOW + 300}e0`),
        new Raw(`${(NOW + 300) / 1000}e3`),
        new Raw('-0'),
        new Raw(`0${NOW + 300}`),
        new Raw(`${NOW + 300}.`)
      ),
      fc.constantFrom(String(NOW + 300), '', null, true, [NOW + 300], {}, { exp: NOW + 300 })
    )
    const iss = api.issuer.url
    const payloadOp: fc.Arbitrary<Op> = fc.oneof(
      set('iss', fc.constantFrom(iss, `${iss}/`, iss.toUpperCase(), ` ${iss}`, 'https://evil.example', [iss], null, 1, {}, '')),
      set(
        'aud',
        fc.constantFrom(
          AUDIENCE,
          SECOND_AUDIENCE,
          [AUDIENCE],
          ['https://other.example', AUDIENCE],
          [SECOND_AUDIENCE, AUDIENCE],
          [],
          ['https://other.example'],
          [AUDIENCE, 1],
          [1, AUDIENCE],
          [AUDIENCE, null],
          [[AUDIENCE]],
          42,
          null,
          {},
          true,
          `${AUDIENCE}/`,
          AUDIENCE.toUpperCase(),
          '',
          { aud: AUDIENCE }
        )
      ),
      fc.tuple(fc.constantFrom('exp', 'nbf', 'iat'), time).map(([name, value]) => ({ set: name, value })),
      fc
        .tuple(
          fc.constantFrom('sub', 'client_id', 'azp', 'jti', 'scope'),
          fc.constantFrom('user-2', 'other-client', '', 1, null, ['a'], {}, true)
        )
        .map(([name, value]) => ({ set: name, value })),
      fc
        .tuple(
          fc.constantFrom('nonce', 'at_hash', 'c_hash', 's_hash', 'cnf', 'token_use', 'typ'),
          fc.constantFrom('access', 'id', 'refresh', 'Bearer', 'ID', 'at+jwt', 'n-1', 1, null, { jkt: 'x' })
        )
        .map(([name, value]) => ({ set: name, value })),
      fc
        .tuple(
          fc.oneof(
            fc.string({ maxLength: 8 }),
            fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'EXP', 'exp ', 'Aud')
          ),
          hostile
        )
        .map(([name, value]) => ({ set: name, value })),
      remove('iss', 'aud', 'exp', 'iat', 'sub', 'jti', 'client_id', 'scope')
    )
    const ops = (op: fc.Arbitrary<Op>): fc.Arbitrary<Op[]> =>
      fc.oneof({ arbitrary: fc.constant<Op[]>([]), weight: 3 }, { arbitrary: fc.array(op, { minLength: 1, maxLength: 3 }), weight: 2 })

    const textStyle: fc.Arbitrary<TextStyle> = fc.record({
      space: fc.oneof(
        { arbitrary: fc.constant('' as const), weight: 6 },
        { arbitrary: fc.constantFrom(' ' as const, '\r\n ' as const, '\n\t' as const), weight: 1 }
      ),
      escapeNames: fc.oneof(
        { arbitrary: fc.constant('none' as const), weight: 8 },
        { arbitrary: fc.constantFrom('first' as const, 'all' as const), weight: 1 }
      ),
      escapeStrings: fc.oneof({ arbitrary: fc.constant(false), weight: 8 }, { arbitrary: fc.constant(true), weight: 1 }),
      duplicate: rarely(fc.record({ index: fc.nat(20), escaped: fc.boolean(), sameValue: fc.boolean(), before: fc.boolean() }), 10),
      frame: rarely(fc.constantFrom(...FRAMES), 12)
    })
    const segmentOp = (weight: number): fc.Arbitrary<SegmentOp | null> =>
      rarely(
        fc.record({
          kind: fc.constantFrom(...SEGMENT_OPS),
          at: fc.nat(400),
          char: fc.constantFrom('A', 'a', '0', '-', '_', '+', '/', '=', '.', ' ', '\n', '%', '\u00e9')
        }),
        weight
      )

    return fc.record({
      key: fc.constantFrom(...KEY_NAMES),
      header: ops(headerOp),
      payload: ops(payloadOp),
      headerText: textStyle,
      payloadText: textStyle,
      headerSegment: segmentOp(16),
      payloadSegment: segmentOp(12),
      signing: fc.oneof({ arbitrary: fc.constant('resign' as const), weight: 24 }, { arbitrary: fc.constantFrom(...SIGNINGS), weight: 3 }),
      signature: rarely(fc.record({ kind: fc.constantFrom(...SIGNATURE_OPS), at: fc.nat(600), bit: fc.nat(7) }), 10),
      signatureSegment: segmentOp(16),
      shape: rarely(fc.constantFrom(...SHAPES), 20)
    })
  }

  // ---------------------------------------------------------------- the property

  it(`holds for ${RUNS} mutated tokens`, async () => {
    tally.clear()
    await fc.assert(
      fc.asyncProperty(recipes(), async (r) => {
        await compare(build(r))
      }),
      { numRuns: RUNS }
    )
    // The mutations must reach every verdict often enough for the property to mean something.
    const count = (prefix: string): number =>
      [...tally].filter(([outcome]) => outcome.startsWith(prefix)).reduce((sum, [, n]) => sum + n, 0)
    expect(count('both accept'), JSON.stringify([...tally])).toBeGreaterThan(RUNS / 10)
    expect(count('both refuse'), JSON.stringify([...tally])).toBeGreaterThan(RUNS / 10)
    expect(count('project stricter'), JSON.stringify([...tally])).toBeGreaterThan(0)
  })

  // ---------------------------------------------------------------- named cases

  const set = (name: string, value: unknown): Op => ({ set: name, value })
  const remove = (name: string): Op => ({ remove: name })

  /** Payload ops whose encoded claims set leaves spare bits in its last character (length % 4 of 2 or 3). */
  function spareBits(): Op[] {
    for (const jti of ['j', 'jt', 'jti']) {
      const ops = [set('jti', jti)]
      if (b64url(serialize(applyOps(basePayload(), ops), PLAIN)).length % 4 >= 2) return ops
    }
    throw new Error('three consecutive lengths cannot all be multiples of 3')
  }

  /** Each case states the expected outcome; all of them also go through the property. */
  const cases: Array<[name: string, expected: Outcome, make: () => Recipe | string]> = [
    ...KEY_NAMES.map((key): [string, Outcome, () => Recipe] => [`a valid token signed with ${key}`, 'both accept', () => recipe({ key })]),
    ['exp = now - tolerance', 'both refuse', () => recipe({ payload: [set('exp', NOW - 5)] })],
    ['exp = now - tolerance + 0.5', 'both accept', () => recipe({ payload: [set('exp', NOW - 4.5)] })],
    ['nbf = now + tolerance', 'both accept', () => recipe({ payload: [set('nbf', NOW + 5)] })],
    ['nbf = now + tolerance + 0.5', 'both refuse', () => recipe({ payload: [set('nbf', NOW + 5.5)] })],
    [
      'exp written as 1.7e309 (JSON.parse: Infinity)',
      'project stricter: ERR_JWT_CLAIM_INVALID',
      () => recipe({ payload: [set('exp', new Raw('1.7e309'))] })
    ],
    ['exp written as "1234.0e0"-style number text', 'both accept', () => recipe({ payload: [set('exp', new Raw(`${NOW + 300}.0e0`))] })],
    ['exp as a numeric string', 'both refuse', () => recipe({ payload: [set('exp', String(NOW + 300))] })],
    ['no exp', 'both refuse', () => recipe({ payload: [remove('exp')] })],
    ['no iss', 'both refuse', () => recipe({ payload: [remove('iss')] })],
    ['no aud', 'both refuse', () => recipe({ payload: [remove('aud')] })],
    [
      'aud an array naming the second audience',
      'both accept',
      () => recipe({ payload: [set('aud', ['https://other.example', SECOND_AUDIENCE])] })
    ],
    [
      'aud an array with a number beside ours',
      'project stricter: ERR_JWT_CLAIM_INVALID',
      () => recipe({ payload: [set('aud', [1, AUDIENCE])] })
    ],
    ['iat in the future', 'project stricter: ERR_JWT_ISSUED_IN_FUTURE', () => recipe({ payload: [set('iat', NOW + 60)] })],
    ['iat as a string', 'both refuse', () => recipe({ payload: [set('iat', String(NOW))] })],
    ['sub as a number', 'project stricter: ERR_JWT_CLAIM_INVALID', () => recipe({ payload: [set('sub', 42)] })],
    ['typ id_token+jwt', 'project stricter: ERR_ID_TOKEN_NOT_ACCESS_TOKEN', () => recipe({ header: [set('typ', 'id_token+jwt')] })],
    [
      'a nonce and no access-token marker',
      'project stricter: ERR_ID_TOKEN_NOT_ACCESS_TOKEN',
      () => recipe({ header: [remove('typ')], payload: [set('nonce', 'n-1')] })
    ],
    ['cnf (a DPoP-bound token)', 'project stricter: ERR_TOKEN_SENDER_CONSTRAINED', () => recipe({ payload: [set('cnf', { jkt: 'x' })] })],
    [
      'a duplicate claim, the real iss last',
      'project stricter: ERR_TOKEN_MALFORMED',
      () => recipe({ payloadText: { ...PLAIN, duplicate: { index: 0, escaped: false, sameValue: false, before: true } } })
    ],
    [
      'a duplicate claim, an evil iss last',
      'both refuse',
      () => recipe({ payloadText: { ...PLAIN, duplicate: { index: 0, escaped: true, sameValue: false, before: false } } })
    ],
    [
      'a duplicate alg, same value',
      'project stricter: ERR_TOKEN_MALFORMED',
      () => recipe({ headerText: { ...PLAIN, duplicate: { index: 0, escaped: true, sameValue: true, before: false } } })
    ],
    [
      'member names and strings written as \\u escapes',
      'both accept',
      () =>
        recipe({
          headerText: { ...PLAIN, escapeNames: 'all', escapeStrings: true },
          payloadText: { ...PLAIN, escapeNames: 'first', escapeStrings: true }
        })
    ],
    [
      'CRLF white space, as in the RFC 7515 examples',
      'both accept',
      () => recipe({ headerText: { ...PLAIN, space: '\r\n ' }, payloadText: { ...PLAIN, space: '\r\n ' } })
    ],
    [
      'a claims set starting with a BOM (both ignore it, as RFC 8259 §8.1 allows)',
      'both accept',
      () => recipe({ payloadText: { ...PLAIN, frame: 'bom' } })
    ],
    ['a header starting with a BOM', 'project stricter: ERR_TOKEN_NOT_JWT', () => recipe({ headerText: { ...PLAIN, frame: 'bom' } })],
    [
      'a header with a line break right after "{" (segment "ew...")',
      'both accept',
      () => recipe({ headerText: { ...PLAIN, frame: 'break-after-brace' } })
    ],
    [
      'a claims set with a line break right after "{"',
      'both accept',
      () => recipe({ payloadText: { ...PLAIN, frame: 'break-after-brace' } })
    ],
    ['a lone surrogate escape in a claim', 'both accept', () => recipe({ payloadText: { ...PLAIN, frame: 'lone-surrogate' } })],
    ['invalid UTF-8 in the claims set', 'both refuse', () => recipe({ payloadText: { ...PLAIN, frame: 'invalid-utf8' } })],
    ['the claims set is an array', 'both refuse', () => recipe({ payloadText: { ...PLAIN, frame: 'array' } })],
    ['a __proto__ claim', 'both accept', () => recipe({ payload: [set('__proto__', { typ: 'ID' })] })],
    [
      'padded payload segment, signed as such',
      'project stricter: ERR_TOKEN_MALFORMED',
      () => recipe({ payload: spareBits(), payloadSegment: { kind: 'pad', at: 0, char: '' } })
    ],
    [
      'non-canonical trailing bits, signed as such',
      'project stricter: ERR_TOKEN_MALFORMED',
      () => recipe({ key: 'ES256', payload: spareBits(), payloadSegment: { kind: 'trailing-bits', at: 0, char: '' } })
    ],
    [
      'a space inside the payload segment, signed as such',
      'project stricter: ERR_MULTIPLE_CREDENTIALS',
      () => recipe({ payloadSegment: { kind: 'insert', at: 10, char: ' ' } })
    ],
    ['the base64 (not url) alphabet in the signature', 'both refuse', () => standardAlphabetToken()],
    [
      'ECDSA signature with s replaced by n - s (malleable, valid for both)',
      'both accept',
      () => recipe({ key: 'ES256', signature: { kind: 'high-s', at: 0, bit: 0 } })
    ],
    ['ECDSA signature in DER', 'both refuse', () => recipe({ key: 'ES256', signature: { kind: 'der', at: 0, bit: 0 } })],
    ['RSA-PSS with salt length 0', 'both refuse', () => recipe({ key: 'PS256', signing: 'pss-salt-0' })],
    ['RSA-PSS with the longest salt', 'both refuse', () => recipe({ key: 'PS256', signing: 'pss-salt-max' })],
    [
      'HS256 keyed with the RS256 public key (alg confusion)',
      'both refuse',
      () => recipe({ header: [set('alg', 'HS256')], signing: 'public-pem-hmac' })
    ],
    ['alg none, no signature', 'both refuse', () => recipe({ header: [set('alg', 'none')], signing: 'unsigned' })],
    ['signed by a key the issuer does not publish, its kid', 'both refuse', () => recipe({ key: 'EdDSA', signing: 'stranger' })],
    ['kid-less ES256 with two ES256 keys published', 'both accept', () => recipe({ key: 'ES256-second', header: [remove('kid')] })],
    [
      'kid-less PS256 by the RSA key without alg',
      'both accept',
      () => recipe({ key: 'RSA-any-alg', header: [set('alg', 'PS256'), remove('kid')] })
    ],
    ['PS256 by the key whose JWK says RS256', 'both refuse', () => recipe({ key: 'RS256', header: [set('alg', 'PS256')] })],
    ['kid a number', 'both refuse', () => recipe({ key: 'ES256', header: [set('kid', 1)] })],
    [
      'crit ["b64"] with b64 true',
      'project stricter: ERR_JWS_CRIT_UNSUPPORTED',
      () => recipe({ header: [set('crit', ['b64']), set('b64', true)] })
    ],
    ['crit naming an unknown extension', 'both refuse', () => recipe({ header: [set('crit', ['exp']), set('exp', 1)] })],
    ['b64 false without crit (jose ignores it)', 'project stricter: ERR_TOKEN_MALFORMED', () => recipe({ header: [set('b64', false)] })],
    ['two parts', 'both refuse', () => recipe({ shape: 'two-parts' })],
    ['four parts', 'both refuse', () => recipe({ shape: 'four-parts' })],
    ['a trailing dot', 'both refuse', () => recipe({ shape: 'trailing-dot' })],
    [
      'RSA-PSS signature one byte short (its leading zero byte dropped)',
      'project stricter: ERR_JWS_SIGNATURE_INVALID',
      () => shortPssToken()
    ]
  ]

  /** An EdDSA token whose signature, in the standard alphabet, really differs from base64url (about 1 in 16 has neither - nor _). */
  function standardAlphabetToken(): string {
    for (let i = 0; i < 200; i++) {
      const token = build(
        recipe({ key: 'EdDSA', payload: [set('jti', `jti-std-${i}`)], signatureSegment: { kind: 'standard-alphabet', at: 0, char: '' } })
      )
      if (/[+/]/.test(token.split('.')[2] ?? '')) return token
    }
    throw new Error('no signature with - or _ in 200 tries')
  }

  /** A PS256 token whose signature starts with a zero byte, sent without it. */
  function shortPssToken(): string {
    for (let i = 0; i < 5000; i++) {
      const token = build(recipe({ key: 'PS256', payload: [set('jti', `jti-short-${i}`)] }))
      const [h, p, s = ''] = token.split('.')
      const signature = Buffer.from(s, 'base64url')
      if (signature[0] === 0) return `${h}.${p}.${signature.subarray(1).toString('base64url')}`
    }
    throw new Error('no PSS signature with a leading zero byte in 5000 tries')
  }

  it.each(cases)('%s → %s', async (_name, expected, make) => {
    const made = make()
    const token = typeof made === 'string' ? made : build(made)
    expect(await compare(token)).toBe(expected)
  })

  // ---------------------------------------------------------------- the clock

  it('clock granularity: jose reads the clock in whole seconds, the project in milliseconds (the one place jose is stricter)', async () => {
    // Half a second past NOW: jose floors currentDate to NOW, the project reads NOW + 0.5. For
    // a fractional nbf within that half second of the tolerance edge the project accepts what
    // jose refuses; for exp it is the other way round. Both are within the configured tolerance
    // semantics (RFC 7519 NumericDates may be fractional); it is not a security difference, and
    // the property above runs on a whole second, where both read the same instant.
    api.advance(500)
    try {
      const current = new Date(NOW * 1000 + 500)
      const early = build(recipe({ payload: [set('nbf', NOW + 5.25)] }))
      expect(await projectVerdict(early)).toEqual({ accepted: true })
      expect(await referenceVerdict(early, current)).toEqual({ accepted: false, code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' })
      const late = build(recipe({ payload: [set('exp', NOW - 4.75)] }))
      expect(await projectVerdict(late)).toEqual({ accepted: false, code: 'ERR_JWT_EXPIRED' })
      expect(await referenceVerdict(late, current)).toEqual({ accepted: true })
    } finally {
      api.advance(-500)
      api.app.verifier.cache.clear()
    }
  })
})
