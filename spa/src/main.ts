/**
 * The demo SPA: log in (authorization code + PKCE via oauth4webapi), read who signed in from the
 * ID token, manage messages at the API with the access token, and show what happens when the ID
 * token is sent to the API instead. In DPoP mode the tokens are bound to a key of this tab: the
 * page shows the key's thumbprint beside the token's `cnf.jkt`, and replays a captured request
 * so that the API's refusal can be seen.
 */
import { AuthorizationResponseError, ResponseBodyError } from 'oauth4webapi'

import { Api, describeFailure } from './api.js'
import type { ApiAnswer, Message } from './api.js'
import { Auth } from './auth.js'
import type { Tokens } from './auth.js'
import { renderClaims } from './claims-table.js'
import { loadConfig } from './config.js'
import { byId, el, show } from './dom.js'
import { dpopModeOn, setDpopMode } from './dpop.js'
import { decodeJwt } from './jwt.js'

const ui = {
  login: byId<HTMLButtonElement>('login'),
  logout: byId<HTMLButtonElement>('logout'),
  user: byId('user'),
  userName: byId('user-name'),
  userEmail: byId('user-email'),
  alert: byId('alert'),
  welcome: byId('welcome'),
  dpopMode: byId<HTMLInputElement>('dpop-mode'),
  messages: byId('messages'),
  messagesScheme: byId('messages-scheme'),
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
  dpop: byId('dpop'),
  dpopKey: byId('dpop-key'),
  dpopThumbprint: byId('dpop-thumbprint'),
  dpopCnfJkt: byId('dpop-cnf-jkt'),
  dpopMatch: byId('dpop-match'),
  dpopLastRequest: byId('dpop-last-request'),
  replay: byId<HTMLButtonElement>('replay'),
  replayResult: byId('replay-result'),
  replayResultLine: byId('replay-result-line'),
  replayResultCode: byId('replay-result-code'),
  replayResultDescription: byId('replay-result-description'),
  replayResultBody: byId('replay-result-body'),
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
  const highlight = auth.dpop === undefined ? ['aud', 'scope'] : ['aud', 'scope', 'cnf']
  if (access !== undefined) renderClaims(ui.accessTokenClaims, access.header, access.payload, highlight)
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

/** How the messages are called: the scheme line of the messages card. */
function renderScheme(): void {
  const code = (text: string) => el('code', {}, text)
  ui.messagesScheme.replaceChildren(
    'Called with the ',
    el('strong', {}, 'access token'),
    ': ',
    ...(auth.dpop === undefined
      ? [code('Authorization: Bearer <access token>'), '.']
      : [code('Authorization: DPoP <access token>'), ' and a fresh ', code('DPoP: <proof>'), ' for every request.'])
  )
}

/** The `cnf.jkt` of a JWT access token; undefined for an opaque one (only the issuer and the API can read it). */
function cnfJkt(tokens: Tokens): string | undefined {
  const cnf = decodeJwt(tokens.accessToken)?.payload['cnf']
  const jkt = typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>)['jkt'] : undefined
  return typeof jkt === 'string' ? jkt : undefined
}

function renderLastRequest(): void {
  const sent = api.lastDpopRequest
  ui.dpopLastRequest.textContent = sent === undefined ? 'none yet' : `${sent.method} ${new URL(sent.url).pathname}`
  ui.replay.disabled = sent === undefined
}

function renderDpop(tokens: Tokens | undefined): void {
  const key = auth.dpop
  show(ui.dpop, tokens !== undefined && key !== undefined)
  if (tokens === undefined || key === undefined) {
    renderReplayResult(undefined)
    for (const field of [ui.dpopKey, ui.dpopThumbprint, ui.dpopCnfJkt, ui.dpopMatch, ui.dpopLastRequest]) field.textContent = ''
    ui.replay.disabled = true
    return
  }
  ui.dpopKey.textContent = `${key.algorithm}, private key extractable: ${String(key.privateKeyExtractable)}`
  ui.dpopThumbprint.textContent = key.thumbprint
  const jkt = cnfJkt(tokens)
  ui.dpopCnfJkt.textContent = jkt ?? '(an opaque token: the API learns it from the issuer)'
  ui.dpopMatch.textContent = jkt === undefined ? '' : jkt === key.thumbprint ? '= this key' : '≠ this key'
  ui.dpopMatch.className = jkt === undefined ? '' : jkt === key.thumbprint ? 'match' : 'mismatch'
  renderLastRequest()
}

function renderReplayResult(answer: ApiAnswer | undefined, label = ''): void {
  show(ui.replayResult, answer !== undefined)
  if (answer === undefined) {
    ui.replayResultLine.textContent = ''
    ui.replayResultCode.textContent = ''
    ui.replayResultDescription.textContent = ''
    ui.replayResultBody.textContent = ''
    return
  }
  ui.replayResult.dataset['status'] = String(answer.status)
  ui.replayResult.classList.toggle('refused', !answer.ok)
  ui.replayResultLine.textContent = `${label} → ${answer.status} ${answer.statusText}`.trim()
  ui.replayResultCode.textContent = answer.code ?? ''
  ui.replayResultDescription.replaceChildren()
  if (answer.errorDescription !== undefined) {
    ui.replayResultDescription.append(
      el('span', { class: 'muted' }, `${answer.error ?? 'error'}: `),
      el('span', { class: 'description' }, answer.errorDescription)
    )
  }
  ui.replayResultBody.textContent = answer.body === undefined ? '' : JSON.stringify(answer.body, null, 2)
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
  renderScheme()
  renderDpop(tokens)
  if (!signedIn) {
    ui.messageList.replaceChildren()
    ui.messagesStatus.textContent = ''
    renderApiResult('', undefined)
  }
}

/** An API call with the access token: Bearer, or DPoP with a fresh proof in DPoP mode. */
async function withAccessToken(method: string, path: string, json?: unknown): Promise<ApiAnswer> {
  const token = await auth.accessToken()
  const answer = await api.call(token, method, path, json, auth.dpop)
  if (auth.dpop !== undefined) renderLastRequest()
  return answer
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
  // a refresh may have brought a new token (bound to the same key)
  renderDpop(auth.tokens)
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

ui.dpopMode.checked = dpopModeOn()
ui.dpopMode.addEventListener('change', () => setDpopMode(ui.dpopMode.checked))
ui.login.addEventListener(
  'click',
  action(ui.login, () => auth.login(ui.dpopMode.checked))
)
ui.logout.addEventListener('click', () => {
  auth.logout()
  api.forget()
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
ui.replay.addEventListener(
  'click',
  action(ui.replay, async () => {
    const sent = api.lastDpopRequest
    if (sent === undefined) return
    renderReplayResult(await api.replayLastDpopRequest(), `Replayed ${sent.method} ${new URL(sent.url).pathname}`)
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
