/**
 * CORS for the SPA origins of CORS_ORIGINS (@fastify/cors). Preflights allow Authorization;
 * refusals carry the CORS headers too (the hook runs before the auth gate), and
 * WWW-Authenticate is exposed so that an SPA can read why it was refused.
 */
import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

async function corsPlugin (app: FastifyInstance, options: { origins: readonly string[] }): Promise<void> {
  if (options.origins.length === 0) return
  await app.register(cors, {
    origin: [...options.origins],
    methods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type'],
    exposedHeaders: ['WWW-Authenticate', 'Retry-After', 'Location'],
    credentials: false,
    maxAge: 600,
    strictPreflight: true
  })
}

export default fp(corsPlugin, { name: 'cors', fastify: '5.x' })
