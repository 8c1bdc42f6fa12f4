/**
 * Red team against DPoP (RFC 9449) and several trusted issuers, playing the attacker.
 *
 * The first two blocks are findings of the review, fixed: a proof for one route passing the htu
 * check on another, through a path the router takes as it is (src/dpop/htu.ts); and one holder
 * of a bound token filling the in-process replay store with fresh proofs so that every client
 * got the 503 (now each proof key has its share: src/dpop/replay-store.ts). Every other test
 * confirms that an attack is held.
 *
 * Valid proofs come from the `dpop` client library, crafted ones from `jose` (or raw WebCrypto
 * where the JSON itself must be odd); requests the HTTP parser must see as sent (a backslash
 * in the target, two DPoP headers in different case) go over a real socket.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { generateProof } from 'dpop'
import { exportJWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { INTROSPECTION_CREDENTIALS, activeAnswer, opaque } from '../helpers/introspection.js'
import { signJwt, signRaw } from '../helpers/jwt-sign.js'
import { ath, craftedProof as crafted, dpopClient as client, type DpopClient as Client } from '../helpers/dpop-client.js'
import { makeKey } from '../helpers/keys.js'
import { AUDIENCE, buildTestApp, CLIENT_ID, startTestApi, type TestApi } from '../helpers/test-api.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'

const PUBLIC_URL = 'https://api.example.test'
const HTU = `${PUBLIC_URL}/api/me`

const b64 = (text: string): string => Buffer.from(text).toString('base64url')

/** A proof whose header and payload JSON are given as text (duplicate members...), signed with ES256 by WebCrypto. */
async function rawProof(from: Client, headerJson: string, payloadJson: string): Promise<string> {
  const input = `${b64(headerJson)}.${b64(payloadJson)}`
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, from.keys.privateKey, Buffer.from(input))
  return `${input}.${Buffer.from(signature).toString('base64url')}`
}

function dpopGet(app: FastifyInstance, token: string, proof: string | string[] | undefined, url = '/api/me', method = 'GET') {
  const headers: Record<string, string | string[]> = { authorization: `DPoP ${token}` }
  if (proof !== undefined) headers.dpop = proof
  return app.inject({ method: method as 'GET', url, headers })
}

/** One HTTP/1.1 request over a real socket, written byte for byte; resolves with status line and body. */
function rawRequest(port: number, lines: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let out = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => (out += chunk))
    socket.on('end', () => {
      const [head = '', body = ''] = out.split('\r\n\r\n')
      resolve({ status: Number(head.split(' ')[1]), body })
    })
    socket.on('error', reject)
    socket.write(`${[...lines, 'Connection: close'].join('\r\n')}\r\n\r\n`)
  })
}

function expectProofRefusal(
  res: LightMyRequestResponse | { statusCode: number; json(): unknown; headers: Record<string, unknown> },
  code: string
): void {
  expect(res.statusCode).toBe(401)
  expect(res.json()).toMatchObject({ status: 401, code })
  expect(String(res.headers['www-authenticate'])).toMatch(/^DPoP algs="[^"]+", error="invalid_dpop_proof"/)
}

// ---------------------------------------------------------------------------------------------
// Found in review, fixed: the request path is never normalised into another route's
// ---------------------------------------------------------------------------------------------

describe('found: a request path the router takes as it is (backslash, dot segments) while htu normalisation would not: refused', () => {
  // A backslash in the request target is a plain character to Node's parser and to the router
  // (it ends up inside the :id parameter), but URL.parse treats it as "/" in an http(s) URL and
  // then removes the dot segments; "%2e%2e" is a dot segment to URL.parse and an id ".." to the
  // router. So the URI the proof is compared with is not the URI that was routed.
  let api: TestApi
  let port: number
  let alice: Client
  let token: string

  beforeAll(async () => {
    api = await startTestApi({ algs: ['ES256'], env: { PUBLIC_URL } })
    await api.app.listen({ port: 0, host: '127.0.0.1' })
    port = (api.app.server.address() as AddressInfo).port
    alice = await client()
    token = api.token({ cnf: { jkt: alice.jkt } })
  })
  afterAll(async () => {
    await api.close()
  })

  it('a proof for GET /api/me is accepted on GET /api/messages/x\\..\\..\\me (the message handler runs): expected 401 ERR_DPOP_PROOF_HTU', async () => {
    const proof = await generateProof(alice.keys, HTU, 'GET', undefined, token)
    const res = await rawRequest(port, [
      'GET /api/messages/x\\..\\..\\me HTTP/1.1',
      'Host: api.example.test',
      `Authorization: DPoP ${token}`,
      `DPoP: ${proof}`
    ])
    // now: 404 ERR_MESSAGE_NOT_FOUND, i.e. the GET /api/messages/:id handler ran with a proof
    // whose htu names /api/me
    expect(res.body).not.toContain('ERR_MESSAGE_NOT_FOUND')
    expect(res.status, res.body).toBe(401)
    expect(JSON.parse(res.body)).toMatchObject({ code: 'ERR_DPOP_PROOF_HTU' })
  })

  it('a proof whose htu is https://api.example.test/api/ is accepted on GET /api/messages/%2e%2e (handler runs with id ".."): expected 401 ERR_DPOP_PROOF_HTU', async () => {
    const proof = await generateProof(alice.keys, `${PUBLIC_URL}/api/`, 'GET', undefined, token)
    const res = await rawRequest(port, [
      'GET /api/messages/%2e%2e HTTP/1.1',
      'Host: api.example.test',
      `Authorization: DPoP ${token}`,
      `DPoP: ${proof}`
    ])
    expect(res.body).not.toContain('ERR_MESSAGE_NOT_FOUND')
    expect(res.status, res.body).toBe(401)
  })

  it('with a PUBLIC_URL base path (a gateway shared by several APIs), a proof made for a sibling API on the same origin is accepted here: expected 401', async () => {
    const gateway = await startTestApi({ algs: ['ES256'], env: { PUBLIC_URL: 'https://gw.example.test/messages-api' } })
    try {
      await gateway.app.listen({ port: 0, host: '127.0.0.1' })
      const gwPort = (gateway.app.server.address() as AddressInfo).port
      const bound = gateway.token({ cnf: { jkt: alice.jkt } })
      // the client made this proof for another service behind the same gateway (its own replay store)
      const proof = await generateProof(alice.keys, 'https://gw.example.test/billing-api/api/me', 'GET', undefined, bound)
      const res = await rawRequest(gwPort, [
        'GET /api/messages/x\\..\\..\\..\\..\\billing-api\\api\\me HTTP/1.1',
        'Host: gw.example.test',
        `Authorization: DPoP ${bound}`,
        `DPoP: ${proof}`
      ])
      expect(res.body).not.toContain('ERR_MESSAGE_NOT_FOUND')
      expect(res.status, res.body).toBe(401)
    } finally {
      await gateway.close()
    }
  })
})

// ---------------------------------------------------------------------------------------------
// HELD: these pass
describe('found: one holder of a bound token could flood fresh proofs until the in-process replay store was full, and then every client got 503 ERR_DPOP_REPLAY_CHECK_UNAVAILABLE', () => {
  // The store refuses new proofs rather than forget an unexpired one (forgetting would let
  // that replay in), and it was one pool for everybody: Mallory, with one token bound to his
  // own key, signs fresh proofs as fast as he likes and fills it for the whole iat window.
  // Now each proof key may hold AUTH_DPOP_REPLAY_PER_KEY of it: past that, only his are refused.
  const SHARE = 20
  let api: TestApi
  let alice: Client
  let mallory: Client
  let aliceToken: string
  let malloryToken: string
  /** A proof of Mallory's that was accepted. */
  let malloryUsed = ''

  beforeAll(async () => {
    api = await startTestApi({
      algs: ['ES256'],
      env: { PUBLIC_URL, AUTH_DPOP_REPLAY_CACHE_SIZE: '1000', AUTH_DPOP_REPLAY_PER_KEY: String(SHARE) }
    })
    alice = await client()
    mallory = await client()
    aliceToken = api.token({ cnf: { jkt: alice.jkt }, sub: 'alice' })
    malloryToken = api.token({ cnf: { jkt: mallory.jkt }, sub: 'mallory' })
  })
  afterAll(async () => {
    await api.close()
  })

  it("Mallory fills his share with fresh proofs; Alice's fresh proof still gets 200, Mallory's next gets the 503 (problem+json, Retry-After)", async () => {
    for (let i = 0; i < SHARE; i++) {
      const proof = await generateProof(mallory.keys, HTU, 'GET', undefined, malloryToken)
      const res = await dpopGet(api.app, malloryToken, proof)
      expect(res.statusCode).toBe(200)
      malloryUsed = proof
    }
    const refused = await dpopGet(api.app, malloryToken, await generateProof(mallory.keys, HTU, 'GET', undefined, malloryToken))
    expect(refused.statusCode).toBe(503)
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(refused.json()).toMatchObject({ status: 503, code: 'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE' })
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)

    for (let i = 0; i < 3; i++) {
      const res = await dpopGet(api.app, aliceToken, await generateProof(alice.keys, HTU, 'GET', undefined, aliceToken))
      expect(res.statusCode).toBe(200)
      expect(res.json()).toMatchObject({ sub: 'alice' })
    }
    // still refused
    const again = await dpopGet(api.app, malloryToken, await generateProof(mallory.keys, HTU, 'GET', undefined, malloryToken))
    expect(again.statusCode).toBe(503)
    expect(api.app.dpopReplayStore.size).toBe(SHARE + 3)
  })

  it('a proof Mallory already used is still refused as a replay (401), not let in, while his share is full', async () => {
    expect(malloryUsed).not.toBe('')
    expectProofRefusal(await dpopGet(api.app, malloryToken, malloryUsed), 'ERR_DPOP_PROOF_REPLAYED')
    const proof = await generateProof(alice.keys, HTU, 'GET', undefined, aliceToken)
    expect((await dpopGet(api.app, aliceToken, proof)).statusCode).toBe(200)
    expectProofRefusal(await dpopGet(api.app, aliceToken, proof), 'ERR_DPOP_PROOF_REPLAYED')
  })
})

// ---------------------------------------------------------------------------------------------

describe('held: the DPoP gate, AUTH_DPOP=allowed', () => {
  let api: TestApi
  let port: number
  let alice: Client
  let mallory: Client
  let token: string
  const logs: string[] = []
  /** Runs of a protected test route's handler: a refusal must never add one. */
  let handlerRuns = 0

  beforeAll(async () => {
    api = await startTestApi({
      algs: ['ES256'],
      env: { PUBLIC_URL, LOG_LEVEL: 'debug', AUTH_TOKEN_FORMATS: 'jwt,opaque', ...INTROSPECTION_CREDENTIALS },
      logStream: { write: (line: string) => void logs.push(line) },
      instrument: (app) => {
        app.get('/red-team/probe', { config: { scopes: [] } }, async () => {
          handlerRuns++
          return { ran: true }
        })
      }
    })
    await api.app.listen({ port: 0, host: '127.0.0.1' })
    port = (api.app.server.address() as AddressInfo).port
    alice = await client()
    mallory = await client()
    token = api.token({ cnf: { jkt: alice.jkt } })
  })
  afterAll(async () => {
    await api.close()
  })

  const PROBE = `${PUBLIC_URL}/red-team/probe`

  it('no refusal reaches a handler: no proof, two proofs, other URL/method/token, other key, unbound token, bound token as Bearer', async () => {
    const other = api.token({ cnf: { jkt: alice.jkt } })
    const cases: Array<[string, Promise<LightMyRequestResponse>, string]> = [
      ['no proof', dpopGet(api.app, token, undefined, '/red-team/probe'), 'ERR_DPOP_PROOF_MISSING'],
      [
        'two proofs',
        dpopGet(
          api.app,
          token,
          [
            await generateProof(alice.keys, PROBE, 'GET', undefined, token),
            await generateProof(alice.keys, PROBE, 'GET', undefined, token)
          ],
          '/red-team/probe'
        ),
        'ERR_DPOP_MULTIPLE_PROOFS'
      ],
      [
        'another URL',
        dpopGet(api.app, token, await generateProof(alice.keys, HTU, 'GET', undefined, token), '/red-team/probe'),
        'ERR_DPOP_PROOF_HTU'
      ],
      [
        'another method',
        dpopGet(api.app, token, await generateProof(alice.keys, PROBE, 'POST', undefined, token), '/red-team/probe'),
        'ERR_DPOP_PROOF_HTM'
      ],
      [
        'another token',
        dpopGet(api.app, token, await generateProof(alice.keys, PROBE, 'GET', undefined, other), '/red-team/probe'),
        'ERR_DPOP_PROOF_ATH'
      ],
      [
        "not cnf.jkt's key",
        dpopGet(api.app, token, await generateProof(mallory.keys, PROBE, 'GET', undefined, token), '/red-team/probe'),
        'ERR_DPOP_KEY_MISMATCH'
      ]
    ]
    for (const [name, pending, code] of cases) {
      const res = await pending
      expect(res.statusCode, name).toBe(401)
      expect(res.json().code, name).toBe(code)
    }
    const plain = api.token()
    const unbound = await dpopGet(api.app, plain, await generateProof(alice.keys, PROBE, 'GET', undefined, plain), '/red-team/probe')
    expect(unbound.json()).toMatchObject({ status: 401, code: 'ERR_DPOP_TOKEN_NOT_BOUND' })
    expect(unbound.headers['www-authenticate']).toMatch(/^DPoP algs="[^"]+", error="invalid_token"/)
    const asBearer = await api.app.inject({ url: '/red-team/probe', headers: { authorization: `Bearer ${token}` } })
    expect(asBearer.json()).toMatchObject({ status: 401, code: 'ERR_TOKEN_SENDER_CONSTRAINED' })
    expect(asBearer.headers['www-authenticate']).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/)
    expect(handlerRuns).toBe(0)
    // and the route does run with a good proof
    const ok = await dpopGet(api.app, token, await generateProof(alice.keys, PROBE, 'GET', undefined, token), '/red-team/probe')
    expect(ok.statusCode, ok.body).toBe(200)
    expect(handlerRuns).toBe(1)
  })

  it('two DPoP header fields of different case over a real socket, or one empty beside one valid: 401 ERR_DPOP_MULTIPLE_PROOFS', async () => {
    const one = await generateProof(alice.keys, PROBE, 'GET', undefined, token)
    const two = await generateProof(alice.keys, PROBE, 'GET', undefined, token)
    for (const extra of [
      [`DPoP: ${one}`, `dpop: ${two}`],
      ['DPoP: ', `dpop: ${one}`],
      [`DPoP: ${one}`, `DPOP: ${one}`]
    ]) {
      const res = await rawRequest(port, [
        'GET /red-team/probe HTTP/1.1',
        'Host: api.example.test',
        `Authorization: DPoP ${token}`,
        ...extra
      ])
      expect(res.status, res.body).toBe(401)
      expect(JSON.parse(res.body)).toMatchObject({ code: 'ERR_DPOP_MULTIPLE_PROOFS' })
    }
    expect(handlerRuns).toBe(1)
  })

  it('a replay racing itself: of 8 concurrent identical requests exactly one passes, the others are ERR_DPOP_PROOF_REPLAYED', async () => {
    const proof = await generateProof(alice.keys, HTU, 'GET', undefined, token)
    const answers = await Promise.all(Array.from({ length: 8 }, () => dpopGet(api.app, token, proof)))
    expect(answers.filter((res) => res.statusCode === 200)).toHaveLength(1)
    for (const res of answers.filter((r) => r.statusCode !== 200)) expectProofRefusal(res, 'ERR_DPOP_PROOF_REPLAYED')
  })

  it('a replay with whitespace around the proof, over a socket, is still a replay; the same proof with another token is ERR_DPOP_PROOF_ATH', async () => {
    const proof = await generateProof(alice.keys, HTU, 'GET', undefined, token)
    expect((await dpopGet(api.app, token, proof)).statusCode).toBe(200)
    const res = await rawRequest(port, [
      'GET /api/me HTTP/1.1',
      'Host: api.example.test',
      `Authorization: DPoP  ${token} `,
      `DPoP: \t${proof} `
    ])
    expect(JSON.parse(res.body)).toMatchObject({ status: 401, code: 'ERR_DPOP_PROOF_REPLAYED' })
    expectProofRefusal(await dpopGet(api.app, api.token({ cnf: { jkt: alice.jkt } }), proof), 'ERR_DPOP_PROOF_ATH')
  })

  it('a different jti (another case, trailing space) is a different proof only when the holder signs it; a re-signed copy by another key is refused', async () => {
    const jti = `Jti-${crypto.randomUUID()}`
    const claims = { htm: 'GET', htu: HTU, iat: api.now(), jti, ath: ath(token) }
    expect((await dpopGet(api.app, token, await crafted(alice, claims))).statusCode).toBe(200)
    expectProofRefusal(await dpopGet(api.app, token, await crafted(alice, claims)), 'ERR_DPOP_PROOF_REPLAYED')
    // Mallory copies the proof, changes the jti and signs with his key but keeps Alice's jwk
    expectProofRefusal(
      await dpopGet(api.app, token, await crafted(alice, { ...claims, jti: jti.toLowerCase() }, {}, mallory.keys.privateKey)),
      'ERR_DPOP_PROOF_SIGNATURE'
    )
    // ...or with his own jwk
    expectProofRefusal(await dpopGet(api.app, token, await crafted(mallory, { ...claims, jti: `${jti} ` })), 'ERR_DPOP_KEY_MISMATCH')
  })

  it('duplicate JSON members in the proof (two htu, two jwk, two typ) are malformed, whichever one a parser would keep', async () => {
    const iat = api.now()
    const header = JSON.stringify({ alg: 'ES256', typ: 'dpop+jwt', jwk: alice.jwk })
    const payload = (jti: string) =>
      `{"htm":"GET","htu":"https://evil.example/x","htu":"${HTU}","iat":${iat},"jti":"${jti}","ath":"${ath(token)}"}`
    expectProofRefusal(
      await dpopGet(api.app, token, await rawProof(alice, header, payload(crypto.randomUUID()))),
      'ERR_DPOP_PROOF_MALFORMED'
    )
    const good = JSON.stringify({ htm: 'GET', htu: HTU, iat, jti: crypto.randomUUID(), ath: ath(token) })
    const twoJwk = `{"alg":"ES256","typ":"dpop+jwt","jwk":${JSON.stringify(mallory.jwk)},"jwk":${JSON.stringify(alice.jwk)}}`
    expectProofRefusal(await dpopGet(api.app, token, await rawProof(alice, twoJwk, good)), 'ERR_DPOP_PROOF_MALFORMED')
    const twoTyp = `{"alg":"ES256","typ":"JWT","typ":"dpop+jwt","jwk":${JSON.stringify(alice.jwk)}}`
    expectProofRefusal(await dpopGet(api.app, token, await rawProof(alice, twoTyp, good)), 'ERR_DPOP_PROOF_MALFORMED')
    // an escaped duplicate name ("h\u0074u") is the same member
    const escaped = `{"htm":"GET","htu":"https://evil.example/x","h\\u0074u":"${HTU}","iat":${iat},"jti":"${crypto.randomUUID()}","ath":"${ath(token)}"}`
    expectProofRefusal(await dpopGet(api.app, token, await rawProof(alice, header, escaped)), 'ERR_DPOP_PROOF_MALFORMED')
    // the well-formed one passes
    expect((await dpopGet(api.app, token, await rawProof(alice, header, good))).statusCode).toBe(200)
  })

  it('odd jwk members: wrong-case kty, kid not a string, use enc, key_ops without verify, private d, crv of another curve; extra public members are harmless', async () => {
    const claims = () => ({ htm: 'GET', htu: HTU, iat: api.now(), jti: crypto.randomUUID(), ath: ath(token) })
    // a key whose private half is at hand, to put its d into the jwk and sign with it
    const leaked = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const { d, ...leakedPublic } = await exportJWK(leaked.privateKey)
    for (const jwk of [
      { ...alice.jwk, kty: 'ec' },
      { ...alice.jwk, kid: 7 },
      { ...alice.jwk, use: 'enc' },
      { ...alice.jwk, key_ops: ['sign'] },
      { ...alice.jwk, crv: 'P-384' },
      { ...alice.jwk, kty: 'OKP', crv: 'Ed25519' }
    ]) {
      const res = await dpopGet(api.app, token, await crafted(alice, claims(), { jwk }))
      expect(res.statusCode, JSON.stringify(jwk)).toBe(401)
      expect(['ERR_DPOP_PROOF_JWK', 'ERR_DPOP_PROOF_ALG', 'ERR_DPOP_PROOF_SIGNATURE']).toContain(res.json().code)
    }
    const withD = await dpopGet(api.app, token, await crafted(alice, claims(), { jwk: { ...leakedPublic, d } }, leaked.privateKey))
    expectProofRefusal(withD, 'ERR_DPOP_PROOF_JWK')
    expect(withD.body).not.toContain(String(d))
    // members outside the thumbprint do not change the key nor the jkt
    const extra = { ...alice.jwk, kid: 'k', use: 'sig', alg: 'ES256', x5u: 'https://evil.example/cert', ext: true }
    expect((await dpopGet(api.app, token, await crafted(alice, claims(), { jwk: extra }))).statusCode).toBe(200)
    // Alice's x,y with Mallory's signature: the key in the jwk is what verifies
    expectProofRefusal(
      await dpopGet(api.app, token, await crafted(alice, claims(), { jwk: extra }, mallory.keys.privateKey)),
      'ERR_DPOP_PROOF_SIGNATURE'
    )
  })

  it('a huge proof is malformed (not parsed); a header past the server limit is a problem 431 before routing', async () => {
    const claims = { htm: 'GET', htu: HTU, iat: api.now(), jti: crypto.randomUUID(), ath: ath(token), pad: 'x'.repeat(9000) }
    expectProofRefusal(await dpopGet(api.app, token, await crafted(alice, claims)), 'ERR_DPOP_PROOF_MALFORMED')
    const res = await rawRequest(port, [
      'GET /red-team/probe HTTP/1.1',
      'Host: api.example.test',
      `Authorization: DPoP ${token}`,
      `DPoP: ${'e'.repeat(20_000)}`
    ])
    expect(res.status).toBe(431)
    expect(handlerRuns).toBe(1)
  })

  it('HEAD is its own htm: a HEAD proof passes on HEAD, a GET proof does not (nor a HEAD proof on GET)', async () => {
    const head = await generateProof(alice.keys, HTU, 'HEAD', undefined, token)
    expect((await dpopGet(api.app, token, head, '/api/me', 'HEAD')).statusCode).toBe(200)
    const get = await generateProof(alice.keys, HTU, 'GET', undefined, token)
    const res = await dpopGet(api.app, token, get, '/api/me', 'HEAD')
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_dpop_proof"/)
    expectProofRefusal(await dpopGet(api.app, token, await generateProof(alice.keys, HTU, 'HEAD', undefined, token)), 'ERR_DPOP_PROOF_HTM')
  })

  it('htu path tricks on the proof side: %2F, double slashes, dot segments, other host in Host header; none matches /api/me', async () => {
    for (const htu of [
      `${PUBLIC_URL}/api%2Fme`,
      `${PUBLIC_URL}//api/me`,
      `${PUBLIC_URL}/api//me`,
      `${PUBLIC_URL}/api/me/.`,
      `${PUBLIC_URL}/API/me`,
      'https://evil.example/api/me'
    ]) {
      const proof = await generateProof(alice.keys, htu, 'GET', undefined, token)
      const res = await api.app.inject({ url: '/api/me', headers: { authorization: `DPoP ${token}`, dpop: proof, host: 'evil.example' } })
      expect(res.json().code, htu).toBe('ERR_DPOP_PROOF_HTU')
    }
    // and request targets the router does not serve never reach the gate's proof check or a handler
    for (const target of ['//api/me', '/api//me', '/api/me/', '/api%2Fme']) {
      const res = await dpopGet(api.app, token, await generateProof(alice.keys, `${PUBLIC_URL}${target}`, 'GET', undefined, token), target)
      expect(res.statusCode, target).toBe(404)
    }
  })

  it('opaque tokens: introspection token_type DPoP or cnf makes Bearer fail; DPoP needs cnf.jkt and a proof by that key', async () => {
    const withJkt = opaque()
    const typeOnly = opaque()
    const cnfOnly = opaque()
    const answers = new Map<string, Record<string, unknown>>([
      [withJkt, activeAnswer(api.claims(), { token_type: 'DPoP', cnf: { jkt: alice.jkt } })],
      [typeOnly, activeAnswer(api.claims(), { token_type: 'DPoP' })],
      [cnfOnly, activeAnswer(api.claims(), { token_type: 'Bearer', cnf: { jkt: alice.jkt } })]
    ])
    api.issuer.onIntrospect = (req) => ({ body: answers.get(req.token) ?? { active: false } })
    for (const t of [withJkt, typeOnly, cnfOnly]) {
      const res = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${t}` } })
      expect(res.json()).toMatchObject({ status: 401, code: 'ERR_TOKEN_SENDER_CONSTRAINED' })
    }
    const notBound = await dpopGet(api.app, typeOnly, await generateProof(alice.keys, HTU, 'GET', undefined, typeOnly))
    expect(notBound.json()).toMatchObject({ status: 401, code: 'ERR_DPOP_TOKEN_NOT_BOUND' })
    expectProofRefusal(
      await dpopGet(api.app, withJkt, await generateProof(mallory.keys, HTU, 'GET', undefined, withJkt)),
      'ERR_DPOP_KEY_MISMATCH'
    )
    expectProofRefusal(await dpopGet(api.app, withJkt, undefined), 'ERR_DPOP_PROOF_MISSING')
    const ok = await dpopGet(api.app, withJkt, await generateProof(alice.keys, HTU, 'GET', undefined, withJkt))
    expect(ok.statusCode, ok.body).toBe(200)
  })

  it('bound-token tricks as Bearer: cnf null, cnf a string, cnf with x5t#S256 only, cnf.jkt empty: all refused; with DPoP, none is bound to a key', async () => {
    for (const cnf of [null, 'jkt', { 'x5t#S256': 'abc' }, { jkt: '' }, { jkt: 42 }]) {
      const bound = api.token({ cnf })
      const bearer = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${bound}` } })
      expect(bearer.json().code, JSON.stringify(cnf)).toBe('ERR_TOKEN_SENDER_CONSTRAINED')
      const dpop = await dpopGet(api.app, bound, await generateProof(alice.keys, HTU, 'GET', undefined, bound))
      expect(dpop.json().code, JSON.stringify(cnf)).toBe('ERR_DPOP_TOKEN_NOT_BOUND')
    }
  })

  it('neither the token nor the proof reaches an error body or the logs', async () => {
    const before = logs.length
    const proof = await generateProof(mallory.keys, HTU, 'GET', undefined, token)
    const bodies: string[] = []
    for (const res of [
      await dpopGet(api.app, token, proof),
      await dpopGet(api.app, token, `${proof}x`),
      await dpopGet(api.app, token, [proof, proof]),
      await dpopGet(api.app, token, proof, `/api/me?access_token=${token}`),
      await dpopGet(api.app, `${token}x`, proof),
      await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}`, dpop: proof } })
    ]) {
      expect(res.statusCode).toBeGreaterThanOrEqual(400)
      bodies.push(res.body, JSON.stringify(res.headers))
    }
    const out = [...bodies, ...logs.slice(before)].join('\n')
    for (const secret of [token.split('.')[2]!, proof.split('.')[2]!, proof.split('.')[1]!]) expect(out).not.toContain(secret)
  })
})

describe('held: Host, X-Forwarded-Host and nonces', () => {
  it('behind a trusted proxy, a proof for the forwarded host is refused; PUBLIC_URL is the only origin', async () => {
    const api = await startTestApi({ algs: ['ES256'], env: { PUBLIC_URL, TRUST_PROXY: 'loopback' } })
    try {
      const alice = await client()
      const token = api.token({ cnf: { jkt: alice.jkt } })
      const headers = (proof: string) => ({
        authorization: `DPoP ${token}`,
        dpop: proof,
        host: 'evil.example',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'http',
        'x-forwarded-prefix': '/evil'
      })
      for (const htu of ['https://evil.example/api/me', 'http://evil.example/api/me', `${PUBLIC_URL}/evil/api/me`]) {
        const res = await api.app.inject({
          url: '/api/me',
          remoteAddress: '127.0.0.1',
          headers: headers(await generateProof(alice.keys, htu, 'GET', undefined, token))
        })
        expect(res.json().code, htu).toBe('ERR_DPOP_PROOF_HTU')
      }
      const ok = await api.app.inject({
        url: '/api/me',
        remoteAddress: '127.0.0.1',
        headers: headers(await generateProof(alice.keys, HTU, 'GET', undefined, token))
      })
      expect(ok.statusCode, ok.body).toBe(200)
    } finally {
      await api.close()
    }
  })

  it('a nonce made with another secret (another deployment) is use_dpop_nonce; the fresh one passes', async () => {
    const env = { PUBLIC_URL, AUTH_DPOP_NONCE: 'on', AUTH_DPOP_NONCE_SECRET: 'a'.repeat(32) }
    const ours = await startTestApi({ algs: ['ES256'], env })
    const theirs = await startTestApi({ algs: ['ES256'], env: { ...env, AUTH_DPOP_NONCE_SECRET: 'b'.repeat(32) } })
    try {
      const alice = await client()
      const token = ours.token({ cnf: { jkt: alice.jkt } })
      const foreign = String((await theirs.app.inject({ url: '/api/me' })).headers['dpop-nonce'])
      const res = await dpopGet(ours.app, token, await generateProof(alice.keys, HTU, 'GET', foreign, token))
      expect(res.statusCode).toBe(401)
      expect(res.json()).toMatchObject({ code: 'ERR_DPOP_NONCE_REQUIRED' })
      expect(res.headers['www-authenticate']).toMatch(/^DPoP algs="[^"]+", error="use_dpop_nonce"/)
      const nonce = String(res.headers['dpop-nonce'])
      expect(nonce).not.toBe(foreign)
      expect((await dpopGet(ours.app, token, await generateProof(alice.keys, HTU, 'GET', nonce, token))).statusCode).toBe(200)
    } finally {
      await ours.close()
      await theirs.close()
    }
  })
})

describe('held: several issuers (AUTH_ISSUERS_FILE) against confusion', () => {
  const dir = mkdtempSync(join(tmpdir(), 'red-team-issuers-'))
  const keyA = makeKey('ES256', { kid: 'same' })
  const keyB = makeKey('ES256', { kid: 'same' })
  const keyT = makeKey('ES256')
  const keyC = makeKey('ES256')
  let a: TestIssuer
  let b: TestIssuer
  let t: TestIssuer
  let c: TestIssuer
  let app: FastifyInstance
  let template: string

  const claims = (iss: string, extra: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000)
    return { iss, sub: 'u', aud: AUDIENCE, iat: now, exp: now + 300, client_id: CLIENT_ID, scope: 'read:messages', ...extra }
  }
  const bearer = (token: string) => app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })

  beforeAll(async () => {
    a = await startTestIssuer({ keys: [keyA] })
    b = await startTestIssuer({ keys: [keyB] })
    t = await startTestIssuer({ keys: [keyT] })
    c = await startTestIssuer({ keys: [keyC] })
    template = `${t.url}/{tenantid}/v2.0`
    const file = join(dir, 'issuers.json')
    writeFileSync(
      file,
      JSON.stringify({
        issuers: [
          { issuer: a.url, jwksUri: a.jwksUri },
          { issuer: b.url, jwksUri: b.jwksUri },
          { issuerTemplate: template, tenants: ['tenant-1'], jwksUri: t.jwksUri }
        ]
      })
    )
    app = await buildTestApp({ AUTH_ISSUERS_FILE: file, AUTH_AUDIENCE: AUDIENCE, PUBLIC_URL })
  })
  afterAll(async () => {
    await app?.close()
    await Promise.all([a?.close(), b?.close(), t?.close(), c?.close()])
    rmSync(dir, { recursive: true, force: true })
  })

  it("iss routes to A, signature is B's (same kid in both sets): refused, and A's good token passes", async () => {
    expect((await bearer(signJwt(keyB, claims(a.url)))).json()).toMatchObject({ status: 401, code: 'ERR_JWS_SIGNATURE_INVALID' })
    expect((await bearer(signJwt(keyA, claims(a.url)))).statusCode).toBe(200)
  })

  it('two iss members (A first, B last, or the reverse) are a malformed token, whichever a parser keeps', async () => {
    const payload = JSON.stringify(claims(a.url)).replace('{', `{"iss":"${b.url}",`)
    for (const key of [keyA, keyB]) {
      const res = await bearer(signRaw(key, JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'same' }), payload))
      expect(res.json()).toMatchObject({ status: 401, code: 'ERR_TOKEN_MALFORMED' })
    }
  })

  it("an unconfigured issuer's token (jku/x5u pointing at it) never makes the API fetch its metadata or keys", async () => {
    const before = { ...c.hits }
    for (const header of [{}, { jku: c.jwksUri }, { x5u: `${c.url}/cert` }]) {
      expect((await bearer(signJwt(keyC, claims(c.url), header))).json().code).toMatch(/^ERR_(JWT_ISSUER_INVALID|JWS_HEADER_)/)
    }
    // the template's form with a tenant that is not allowed, or a tid with odd characters
    for (const tid of ['tenant-2', '../tenant-1', 'tenant-1/..', 'tenant-1%2F', 'TENANT-1', 'tenant-1\n', '']) {
      const iss = template.replace('{tenantid}', tid)
      const res = await bearer(signJwt(keyT, claims(iss, { tid })))
      expect(res.statusCode, JSON.stringify(tid)).toBe(401)
      expect(res.json().code).toBe('ERR_JWT_ISSUER_INVALID')
    }
    // tid and iss disagreeing, or no tid
    expect((await bearer(signJwt(keyT, claims(template.replace('{tenantid}', 'tenant-1'), { tid: 'tenant-2' })))).json().code).toBe(
      'ERR_JWT_ISSUER_INVALID'
    )
    expect((await bearer(signJwt(keyT, claims(template.replace('{tenantid}', 'tenant-1'))))).json().code).toBe('ERR_JWT_ISSUER_INVALID')
    // the allowed tenant, signed by A's key: the template's keys only
    const foreignKey = await bearer(signJwt(keyA, claims(template.replace('{tenantid}', 'tenant-1'), { tid: 'tenant-1' })))
    expect(foreignKey.statusCode).toBe(401)
    expect(['ERR_JWS_SIGNATURE_INVALID', 'ERR_JWKS_NO_MATCHING_KEY']).toContain(foreignKey.json().code)
    expect((await bearer(signJwt(keyT, claims(template.replace('{tenantid}', 'tenant-1'), { tid: 'tenant-1' })))).statusCode).toBe(200)
    expect(c.hits).toEqual(before)
  })

  it("a DPoP-bound token of B works with B's proof only, and never as Bearer", async () => {
    const alice = await client()
    const mallory = await client()
    const token = signJwt(keyB, claims(b.url, { cnf: { jkt: alice.jkt } }))
    expect((await bearer(token)).json()).toMatchObject({ code: 'ERR_TOKEN_SENDER_CONSTRAINED' })
    expect((await dpopGet(app, token, await generateProof(mallory.keys, HTU, 'GET', undefined, token))).json()).toMatchObject({
      code: 'ERR_DPOP_KEY_MISMATCH'
    })
    const ok = await dpopGet(app, token, await generateProof(alice.keys, HTU, 'GET', undefined, token))
    expect(ok.statusCode, ok.body).toBe(200)
    expect(ok.json()).toMatchObject({ issuer: b.url })
  })
})
