import type { Account, FindAccount } from 'oidc-provider'

import { findUserBySub } from './demo-users.js'

/** oidc-provider's `findAccount`: the demo users with their OpenID Connect claims. */
export const findAccount: FindAccount = (_ctx, sub) => {
  const user = findUserBySub(sub)
  if (user === undefined) return undefined
  const account: Account = {
    accountId: user.sub,
    claims: () => ({
      sub: user.sub,
      name: user.name,
      email: user.email,
      email_verified: true
    })
  }
  return account
}
