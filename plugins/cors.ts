/**
 * CORS for the SPA origins of CORS_ORIGINS (@fastify/cors). Preflights allow Authorization
 * and DPoP; refusals carry the CORS headers too (the hook runs before the auth gate), and
 * WWW-Authenticate and DPoP-Nonce are exposed so that an SPA can read why it was refused and
 * which nonce its next proof needs.
 */
import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

async function corsPlugin(app: FastifyInstance): Promise<void> {
  const origins = app.config.corsOrigins
  if (origins.length === 0) return
  // @fastify/cors answers preflights in its own onRequest hook and declares `OPTIONS *` only so
  // that the router accepts them; that route serves nothing (its handler answers 404), and a
  // browser sends no Authorization on a preflight, so it is the one route of this plugin made
  // public. Any other OPTIONS route stays behind the gate.
  let declaring = true
  app.addHook('onRoute', (route) => {
    if (declaring && route.method === 'OPTIONS' && route.url === '*') route.config = { ...route.config, public: true }
  })
  const allowed = new Set(origins)
  await app.register(cors, {
    // A request from no allowed origin (an OPTIONS without Origin among them) is no CORS
    // request at all: it goes on to its route and the gate, instead of being answered here
    // with @fastify/cors's plain-text "Invalid Preflight Request".
    origin: (origin: string | undefined, callback: (error: Error | null, origin: string | false) => void) => {
      callback(null, origin !== undefined && allowed.has(origin) ? origin : false)
    },
    methods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
    // DPoP: the proof header (RFC 9449 §4.1); the nonce a browser must read to make its next proof (§9)
    allowedHeaders: ['Authorization', 'Content-Type', 'DPoP'],
    exposedHeaders: ['WWW-Authenticate', 'Retry-After', 'Location', 'DPoP-Nonce'],
    credentials: false,
    maxAge: 600,
    // An OPTIONS request from an allowed origin is answered as a preflight (204, empty), with or
    // without Access-Control-Request-Method: never @fastify/cors's plain-text 400, never a handler.
    strictPreflight: false
  })
  declaring = false
}

export default fp(corsPlugin, { name: 'cors', fastify: '5.x', dependencies: ['config'] })
