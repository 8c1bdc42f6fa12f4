import type { IncomingMessage, ServerResponse } from 'node:http'

import { errors } from 'oidc-provider'
import type { Provider } from 'oidc-provider'

import { grantRequested } from './auto-consent.js'
import { authenticate } from './demo-users.js'
import type { DemoUser } from './demo-users.js'
import { FormBodyError, readFormBody } from './form-body.js'
import { renderInteractionError, renderLoginPage } from './login-page.js'
import { describeRequested } from './scopes.js'
import type { ScopeInfo } from './scopes.js'

const ROUTE = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?\/?$/

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status
  res.setHeader('Content-Type', 'text/html; charset=utf-8')
  res.setHeader('Cache-Control', 'no-store')
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('Referrer-Policy', 'no-referrer')
  res.end(html)
}

/**
 * The development issuer's own interaction routes, in front of oidc-provider:
 * `GET /interaction/:uid` shows the sign-in page, with the scopes asked for and what they mean
 * (or, for a consent prompt, grants what was asked and goes on), `POST /interaction/:uid/login`
 * checks the demo credentials, and `POST /interaction/:uid/abort` ends the request with `access_denied`.
 * Resolves to false for any other request, which then goes to oidc-provider.
 */
export function createInteractionRoutes(provider: Provider, users: readonly DemoUser[], apiScopes: readonly ScopeInfo[]): Handler {
  return async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    const match = ROUTE.exec(path)
    if (match === null) return false
    const [, uid, action] = match
    const method = req.method ?? 'GET'

    if ((action === undefined && method !== 'GET') || (action !== undefined && method !== 'POST')) {
      res.setHeader('Allow', action === undefined ? 'GET' : 'POST')
      sendHtml(res, 405, renderInteractionError('Method not allowed.'))
      return true
    }

    try {
      const interaction = await provider.interactionDetails(req, res)
      if (interaction.uid !== uid) {
        sendHtml(res, 400, renderInteractionError('This sign-in request is not the one in progress.'))
        return true
      }
      const clientId = String(interaction.params['client_id'] ?? '')
      const scopes = describeRequested(interaction.params['scope'], apiScopes)

      if (action === 'abort') {
        await provider.interactionFinished(
          req,
          res,
          { error: 'access_denied', error_description: 'End-User aborted interaction' },
          { mergeWithLastSubmission: false }
        )
        return true
      }

      if (action === 'login') {
        if (interaction.prompt.name !== 'login') {
          sendHtml(res, 400, renderInteractionError('This sign-in request does not expect a login.'))
          return true
        }
        const form = await readFormBody(req)
        const username = form.get('username') ?? ''
        const user = authenticate(username, form.get('password') ?? '')
        if (user === undefined) {
          sendHtml(
            res,
            401,
            renderLoginPage({ uid: interaction.uid, clientId, scopes, users, username, error: 'Wrong username or password.' })
          )
          return true
        }
        await provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false })
        return true
      }

      if (interaction.prompt.name === 'login') {
        sendHtml(res, 200, renderLoginPage({ uid: interaction.uid, clientId, scopes, users }))
        return true
      }
      if (interaction.prompt.name === 'consent') {
        const grantId = await grantRequested(provider, interaction)
        await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true })
        return true
      }
      sendHtml(res, 400, renderInteractionError(`Unsupported interaction prompt "${interaction.prompt.name}".`))
      return true
    } catch (error) {
      if (error instanceof FormBodyError) {
        sendHtml(res, error.status, renderInteractionError(error.message))
      } else if (error instanceof errors.SessionNotFound) {
        sendHtml(res, 400, renderInteractionError('This sign-in request has expired or is unknown.'))
      } else {
        console.error('development issuer: interaction failed', error)
        if (!res.headersSent) sendHtml(res, 500, renderInteractionError('The sign-in request failed.'))
        else res.end()
      }
      return true
    }
  }
}
