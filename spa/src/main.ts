/**
 * The demo SPA: log in (authorization code + PKCE via oauth4webapi), read who signed in from the
 * ID token, manage messages at the API with the access token, and show what happens when the ID
 * token is sent to the API instead.
 */
import { AuthorizationResponseError, ResponseBodyError } from 'oauth4webapi'

import { Api, describeFailure } from './api.js'
import type { ApiAnswer, Message } from './api.js'
import { Auth } from './auth.js'
import type { Tokens } from './auth.js'
import { renderClaims } from './claims-table.js'
import { loadConfig } from './config.js'
import { byId, el, show } from './dom.js'
import { decodeJwt } from './jwt.js'

const ui = {
  login: byId<HTMLButtonElement>('login'),
  logout: byId<HTMLButtonElement>('logout'),
  user: byId('user'),
  userName: byId('user-name'),
  userEmail: byId('user-email'),
  alert: byId('alert'),
  welcome: byId('welcome'),
  messages: byId('messages'),
  messageForm: byId<HTMLFormElement>('message-form'),
  messageText: byId<HTMLInputElement>('message-text'),
  messageList: byId<HTMLUListElement>('message-list'),
  messagesStatus: byId('messages-status'),
  wrongToken: byId('wrong-token'),
  sendIdToken: byId<HTMLButtonElement>('send-id-token'),
  sendAccessToken: byId<HTMLButtonElement>('send-access-token'),
  apiResult: byId('api-result'),
  apiResultLine: byId('api-result-line'),
  apiResultDescription: byId('api-result-description'),
  apiResultWhy: byId('api-result-why'),
  apiResultBody: byId('api-result-body'),
  tokens: byId('tokens'),
  idTokenClaims: byId<HTMLTableElement>('id-token-claims'),
  accessTokenClaims: byId<HTMLTableElement>('access-token-claims')
}

function showAlert(message: string | undefined): void {
  ui.alert.textContent = message ?? ''
  show(ui.alert, message !== undefined)
}

function explain(error: unknown): string {
  if (error instanceof AuthorizationResponseError) {
    const description = error.error_description === undefined ? '' : ` (${error.error_description})`
    return `Sign-in did not complete: ${error.error}${description}`
  }
  if (error instanceof ResponseBodyError)
    return `The issuer refused: ${error.error}${error.error_description === undefined ? '' : ` (${error.error_description})`}`
  if (error instanceof TypeError) return `Could not reach the server: ${error.message}`
  return error instanceof Error ? error.message : String(error)
}

/** Name and email come from the ID token's claims, as validated by oauth4webapi at login. */
function renderUser(tokens: Tokens | undefined): void {
  const claims = tokens?.idTokenClaims
  const name = typeof claims?.['name'] === 'string' ? claims['name'] : claims?.sub
  const email = typeof claims?.['email'] === 'string' ? claims['email'] : ''
  ui.userName.textContent = name ?? ''
  ui.userEmail.textContent = email
  show(ui.user, tokens !== undefined)
}

function renderTokens(tokens: Tokens | undefined): void {
  ui.idTokenClaims.replaceChildren()
  ui.accessTokenClaims.replaceChildren()
  if (tokens === undefined) return
  const id = decodeJwt(tokens.idToken)
  if (id !== undefined) renderClaims(ui.idTokenClaims, id.header, id.payload, ['name', 'email', 'aud'])
  const access = decodeJwt(tokens.accessToken)
  if (access !== undefined) renderClaims(ui.accessTokenClaims, access.header, access.payload, ['aud', 'scope'])
  else ui.accessTokenClaims.replaceChildren(el('caption', {}, 'An opaque token: only the issuer can read it.'))
}

/** Why the API refused the ID token, in the seeds' terms, from the token's own `aud`. */
function whyIdTokenIsRefused(tokens: Tokens): string {
  const aud = decodeJwt(tokens.idToken)?.payload['aud']
  const audience = Array.isArray(aud) ? aud.join(', ') : String(aud)
  return (
    `The ID token is a badge for this app (aud "${audience}"), not a key card for the API ("${config.resource}"). ` +
    'It says who you are; only the access token says what this app may do at the API.'
  )
}

function renderApiResult(label: string, answer: ApiAnswer | undefined, why = ''): void {
  ui.apiResultWhy.textContent = why
  if (answer === undefined) {
    show(ui.apiResult, false)
    ui.apiResultLine.textContent = ''
    ui.apiResultDescription.textContent = ''
    ui.apiResultBody.textContent = ''
    return
  }
  ui.apiResult.dataset['status'] = String(answer.status)
  ui.apiResult.classList.toggle('refused', !answer.ok)
  ui.apiResultLine.textContent = `${label} → ${answer.status} ${answer.statusText}`.trim()
  ui.apiResultDescription.replaceChildren()
  if (answer.errorDescription !== undefined) {
    ui.apiResultDescription.append(
      el('span', { class: 'muted' }, `${answer.error ?? 'error'}: `),
      el('span', { class: 'description' }, answer.errorDescription)
    )
  }
  ui.apiResultBody.textContent = answer.body === undefined ? '' : JSON.stringify(answer.body, null, 2)
  show(ui.apiResult, true)
}

function renderMessages(messages: Message[]): void {
  ui.messageList.replaceChildren(
    ...messages.map((message) => {
      const remove = el('button', { type: 'button', class: 'link', 'aria-label': `Delete message: ${message.text}` }, 'Delete')
      remove.addEventListener('click', () => void deleteMessage(message.id))
      return el(
        'li',
        { 'data-id': message.id },
        el('span', { class: 'message-text' }, message.text),
        el('time', { class: 'muted', datetime: message.createdAt }, new Date(message.createdAt).toLocaleTimeString()),
        remove
      )
    })
  )
  ui.messagesStatus.textContent =
    messages.length === 0 ? 'No messages yet.' : `${messages.length} message${messages.length === 1 ? '' : 's'}.`
}

function render(): void {
  const tokens = auth.tokens
  const signedIn = tokens !== undefined
  show(ui.login, !signedIn)
  show(ui.logout, signedIn)
  show(ui.welcome, !signedIn)
  show(ui.messages, signedIn)
  show(ui.wrongToken, signedIn)
  show(ui.tokens, signedIn)
  renderUser(tokens)
  renderTokens(tokens)
  if (!signedIn) {
    ui.messageList.replaceChildren()
    ui.messagesStatus.textContent = ''
    renderApiResult('', undefined)
  }
}

async function withAccessToken(method: string, path: string, json?: unknown): Promise<ApiAnswer> {
  return api.call(await auth.accessToken(), method, path, json)
}

async function loadMessages(): Promise<void> {
  ui.messagesStatus.textContent = 'Loading…'
  const answer = await withAccessToken('GET', '/api/messages')
  if (!answer.ok || !Array.isArray(answer.body)) {
    ui.messagesStatus.textContent = `Could not load messages: ${describeFailure(answer)}`
    return
  }
  renderMessages(answer.body as Message[])
  renderTokens(auth.tokens)
}

async function addMessage(text: string): Promise<void> {
  const answer = await withAccessToken('POST', '/api/messages', { text })
  if (!answer.ok) {
    ui.messagesStatus.textContent = `Could not add the message: ${describeFailure(answer)}`
    return
  }
  ui.messageText.value = ''
  await loadMessages()
}

async function deleteMessage(id: string): Promise<void> {
  const answer = await withAccessToken('DELETE', `/api/messages/${encodeURIComponent(id)}`)
  if (!answer.ok && answer.status !== 404) {
    ui.messagesStatus.textContent = `Could not delete the message: ${describeFailure(answer)}`
    return
  }
  await loadMessages()
}

/** Runs a click handler with its button disabled, and shows any failure. */
function action(button: HTMLButtonElement, run: () => Promise<void>): () => void {
  return () => {
    if (button.disabled) return
    button.disabled = true
    showAlert(undefined)
    run()
      .catch((error: unknown) => showAlert(explain(error)))
      .finally(() => {
        button.disabled = false
      })
  }
}

const config = await loadConfig().catch((error: unknown) => {
  showAlert(`The SPA has no configuration: ${explain(error)}`)
  throw error
})
const auth = new Auth(config)
const api = new Api(config.apiUrl)

ui.login.addEventListener(
  'click',
  action(ui.login, () => auth.login())
)
ui.logout.addEventListener('click', () => {
  auth.logout()
  showAlert(undefined)
  render()
  ui.login.focus()
})
ui.messageForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const text = ui.messageText.value.trim()
  if (text === '') return
  const submit = ui.messageForm.querySelector<HTMLButtonElement>('button[type="submit"]')
  if (submit !== null) action(submit, () => addMessage(text))()
})
ui.sendIdToken.addEventListener(
  'click',
  action(ui.sendIdToken, async () => {
    const tokens = auth.tokens
    if (tokens === undefined) return
    const answer = await api.call(tokens.idToken, 'GET', '/api/me')
    renderApiResult('GET /api/me with the ID token', answer, answer.ok ? '' : whyIdTokenIsRefused(tokens))
  })
)
ui.sendAccessToken.addEventListener(
  'click',
  action(ui.sendAccessToken, async () => {
    renderApiResult('GET /api/me with the access token', await withAccessToken('GET', '/api/me'))
  })
)

try {
  if (auth.isCallback(window.location)) await auth.completeLogin(new URL(window.location.href))
} catch (error) {
  showAlert(explain(error))
} finally {
  if (window.location.pathname === '/callback') window.history.replaceState(null, '', '/')
}
render()
ui.login.disabled = false
if (auth.tokens !== undefined) await loadMessages().catch((error: unknown) => showAlert(explain(error)))
document.body.dataset['ready'] = 'true'
