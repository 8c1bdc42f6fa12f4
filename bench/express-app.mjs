// The reference: express 5 + express-oauth2-jwt-bearer, wired as its README shows, in its
// own process. Env: PORT, ISSUER, JWKS_URI, AUDIENCE. Routes: GET /health/live (no auth) and
// GET /api/me (auth() then the same fields as the API's /api/me).
import process from 'node:process'
import express from 'express'
import { auth } from 'express-oauth2-jwt-bearer'

const app = express()
app.disable('x-powered-by')

app.get('/health/live', (_req, res) => {
  res.json({ status: 'ok' })
})

app.get('/api/me', auth({ issuer: process.env.ISSUER, jwksUri: process.env.JWKS_URI, audience: process.env.AUDIENCE }), (req, res) => {
  const payload = req.auth.payload
  res.json({
    sub: payload.sub ?? null,
    clientId: payload.client_id ?? null,
    scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
    issuer: payload.iss,
    expiresAt: typeof payload.exp === 'number' ? new Date(payload.exp * 1000).toISOString() : null
  })
})

app.use((err, _req, res, _next) => {
  res.status(err.status ?? 500).json({ error: err.code ?? 'error', message: err.message })
})

const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => {
  process.stdout.write('listening\n')
})
process.on('SIGTERM', () => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
})
