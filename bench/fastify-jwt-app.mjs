// The second reference: fastify 5 + @fastify/jwt + get-jwks, wired as their READMEs show
// (@fastify/jwt "Verifying with JWKS", get-jwks "@fastify/jwt"), in its own process, with the
// issuer pinned. Env: PORT, ISSUER, AUDIENCE. Routes: GET /health/live (no auth) and
// GET /api/me (request.jwtVerify() in the route's onRequest hook, then the same fields as the
// API's /api/me). No logger, no response schema and no verified-token cache, as in the READMEs.
import process from 'node:process'
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import buildGetJwks from 'get-jwks'

const issuer = process.env.ISSUER
const audience = process.env.AUDIENCE

// Keys come from the configured issuer only: get-jwks refuses any other domain
// (issuersWhitelist), and finds the JWKS through the issuer's discovery document.
const getJwks = buildGetJwks({ issuersWhitelist: [issuer], providerDiscovery: true })

class UntrustedIssuerError extends Error {
  statusCode = 401
  code = 'UNTRUSTED_ISSUER'
}

const app = Fastify()

app.register(fastifyJwt, {
  decode: { complete: true },
  // The READMEs' wiring: the public key for the token's kid and alg, from the domain its iss
  // names; here a token naming another issuer is refused before anything is fetched.
  secret: async (_request, token) => {
    const {
      header: { kid, alg },
      payload: { iss }
    } = token
    if (iss !== issuer) throw new UntrustedIssuerError('The token was not issued by the configured issuer')
    return getJwks.getPublicKey({ kid, domain: iss, alg })
  },
  verify: { algorithms: ['RS256', 'ES256'], allowedIss: issuer, allowedAud: audience }
})

app.get('/health/live', async () => ({ status: 'ok' }))

app.get(
  '/api/me',
  {
    onRequest: async (request) => {
      await request.jwtVerify()
    }
  },
  async (request) => {
    const payload = request.user
    return {
      sub: payload.sub ?? null,
      clientId: payload.client_id ?? null,
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
      issuer: payload.iss,
      expiresAt: typeof payload.exp === 'number' ? new Date(payload.exp * 1000).toISOString() : null
    }
  }
)

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
process.stdout.write('listening\n')
process.on('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1)
  )
})
