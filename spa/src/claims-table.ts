import { el } from './dom.js'

const TIME_CLAIMS = new Set(['exp', 'iat', 'nbf', 'auth_time'])

function formatValue(name: string, value: unknown): string {
  if (TIME_CLAIMS.has(name) && typeof value === 'number') {
    return `${value} (${new Date(value * 1000).toLocaleTimeString()})`
  }
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/**
 * Fills a table with a token's header `typ`/`alg` and its claims, one row each; the claims named
 * in `highlight` (what makes this token what it is) stand out.
 */
export function renderClaims(
  table: HTMLTableElement,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  highlight: readonly string[] = []
): void {
  const rows: HTMLTableRowElement[] = []
  for (const name of ['typ', 'alg']) {
    if (header[name] !== undefined) {
      rows.push(
        el('tr', { class: 'header-row' }, el('th', { scope: 'row' }, `header.${name}`), el('td', {}, formatValue(name, header[name])))
      )
    }
  }
  for (const [name, value] of Object.entries(payload)) {
    const attributes: Record<string, string> = { 'data-claim': name }
    if (highlight.includes(name)) attributes['class'] = 'key'
    rows.push(el('tr', attributes, el('th', { scope: 'row' }, name), el('td', {}, formatValue(name, value))))
  }
  table.replaceChildren(el('tbody', {}, ...rows))
}
