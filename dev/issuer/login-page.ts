import type { DemoUser } from './demo-users.js'
import { escapeHtml, htmlDocument } from './html.js'
import type { ScopeInfo } from './scopes.js'

export interface LoginPageInput {
  uid: string
  clientId: string
  /** The scopes the client asks for, with what they mean. */
  scopes: readonly ScopeInfo[]
  users: readonly DemoUser[]
  username?: string
  error?: string
}

/** The development issuer's sign-in page: what the client asks for, and a plain form posting to `/interaction/:uid/login`. */
export function renderLoginPage(input: LoginPageInput): string {
  const uid = encodeURIComponent(input.uid)
  const error = input.error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(input.error)}</p>`
  const hint = input.users
    .map(
      (user) => `<li><code>${escapeHtml(user.username)}</code> / <code>${escapeHtml(user.password)}</code> (${escapeHtml(user.name)})</li>`
    )
    .join('')
  const scopes = input.scopes
    .map(
      (scope) =>
        `<li><code>${escapeHtml(scope.name)}</code>${scope.description === undefined ? '' : ` ${escapeHtml(scope.description)}`}</li>`
    )
    .join('')
  const asks = scopes === '' ? '' : `<p>It asks for:</p>\n<ul class="scopes">${scopes}</ul>\n`
  return htmlDocument(
    'Sign in - development issuer',
    `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(input.clientId)}</strong></p>
${asks}${error}
<form method="post" action="/interaction/${uid}/login" autocomplete="off">
<label for="username">Username</label>
<input id="username" name="username" type="text" required autofocus value="${escapeHtml(input.username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" required>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${uid}/abort">
<button type="submit" class="cancel">Cancel</button>
</form>
<div class="hint">
<p>Development issuer: never use in production. Demo users (password = username):</p>
<ul>${hint}</ul>
</div>`
  )
}

/** A short error page for interaction requests that cannot go on (expired or unknown). */
export function renderInteractionError(message: string): string {
  return htmlDocument(
    'Sign-in error - development issuer',
    `<h1>Sign-in error</h1>
<p class="error" role="alert">${escapeHtml(message)}</p>
<p>Start the sign-in again from the application.</p>`
  )
}
