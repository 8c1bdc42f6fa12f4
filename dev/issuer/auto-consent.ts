import type { Interaction, Provider } from 'oidc-provider'

/**
 * Grants everything a consent prompt asks for (the development issuer has no consent screen):
 * the requested OpenID Connect scopes and claims, and the requested scopes of each resource
 * server, recorded with oidc-provider's Grant API. Returns the grant's id.
 */
export async function grantRequested(provider: Provider, interaction: Interaction): Promise<string> {
  const { details } = interaction.prompt
  const accountId = interaction.session?.accountId
  const clientId = interaction.params['client_id']
  if (accountId === undefined || typeof clientId !== 'string') {
    throw new Error('consent prompt without a signed-in account or a client')
  }

  const existing = interaction.grantId === undefined ? undefined : await provider.Grant.find(interaction.grantId)
  const grant = existing ?? new provider.Grant({ accountId, clientId })

  if (details.missingOIDCScope !== undefined) grant.addOIDCScope(details.missingOIDCScope.join(' '))
  if (details.missingOIDCClaims !== undefined) grant.addOIDCClaims(details.missingOIDCClaims)
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '))
  }
  return grant.save()
}
