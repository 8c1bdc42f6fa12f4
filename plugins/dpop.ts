/**
 * DPoP (RFC 9449) as `app.dpop`: the mode (AUTH_DPOP), the proof checks (src/dpop/proof.ts),
 * the stateless server nonces when AUTH_DPOP_NONCE=on (src/dpop/nonce.ts), and the replay
 * store (plugins/dpop-replay-store.ts). The gate (plugins/auth.ts) uses them; the error
 * handler words the DPoP challenge from them.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { DpopMode } from '../src/config.js'
import { DpopNonces } from '../src/dpop/nonce.js'
import { DpopProofVerifier } from '../src/dpop/proof.js'
import type { ReplayStore } from '../src/dpop/replay-store.js'

export interface Dpop {
  mode: DpopMode
  /** Space-separated accepted proof algorithms, for the challenge's `algs`. */
  algs: string
  proofs: DpopProofVerifier
  /** Present when AUTH_DPOP_NONCE=on. */
  nonces: DpopNonces | undefined
  replay: ReplayStore
  /** Milliseconds since the epoch. */
  now: () => number
}

declare module 'fastify' {
  interface FastifyInstance {
    dpop: Dpop
  }
}

export interface DpopPluginOptions {
  /** Clock in ms, for tests that move time. */
  now?: () => number
}

async function dpop(app: FastifyInstance, options: DpopPluginOptions): Promise<void> {
  const { auth, publicUrl } = app.config
  const config = auth.dpop
  const now = options.now ?? Date.now
  const nonces =
    config.nonceSecret === undefined ? undefined : new DpopNonces({ secret: config.nonceSecret, stepSeconds: config.nonceStep, now })
  const proofs = new DpopProofVerifier({
    algorithms: config.algorithms,
    iatWindow: config.iatWindow,
    clockTolerance: auth.clockTolerance,
    publicUrl,
    nonces
  })
  app.decorate('dpop', { mode: config.mode, algs: proofs.algs, proofs, nonces, replay: app.dpopReplayStore, now })
}

export default fp(dpop, { name: 'dpop', fastify: '5.x', dependencies: ['config', 'dpop-replay-store'] })
