export { startDevIssuer } from './dev-issuer.js'
export type { DevIssuer, DevIssuerOptions } from './dev-issuer.js'
export { DEMO_USERS } from './demo-users.js'
export type { DemoUser } from './demo-users.js'
