/**
 * A query built and compiled by Kysely once, at start-up, and executed with new values on
 * every request: building a query (the operation-node tree, each node frozen) and compiling it
 * to SQL cost more per request than the database's own work on a page of 20 messages. The
 * SQL text is then the same on every call, so node:sqlite's prepared statement is reused
 * (src/db/node-sqlite-dialect.ts) and PostgreSQL sees one statement text.
 *
 * `build` receives `param(name)`: a placeholder value that stands for that parameter wherever
 * the builder takes a value (`where`, `values`, `limit`, `eb.val`). The compiled query's
 * parameters are then mapped back to the names; any other value in the query (a constant such
 * as the `1` of `message_count + 1`) stays as it was compiled.
 *
 *   const listQuery = prepareQuery(db, ['owner', 'limit'], (param) =>
 *     db.selectFrom('messages').selectAll().where('owner_id', '=', param('owner')).limit(param('limit')))
 *   const { rows } = await db.executeQuery(listQuery({ owner: 'alice', limit: 21 }))
 */
import { createQueryId, type Compilable, type CompiledQuery } from 'kysely'

/** The placeholder values: strings no caller can send (they begin with a NUL character). */
const MARK = '\u0000kysely-param:'

export type PreparedQuery<N extends string, R> = (values: Readonly<Record<N, unknown>>) => CompiledQuery<R>

export function prepareQuery<N extends string, R>(
  names: readonly N[],
  // the placeholder is typed `never` so that it fits whatever value type the builder expects there
  build: (param: (name: N) => never) => Compilable<R>
): PreparedQuery<N, R> {
  const compiled = build((name) => `${MARK}${name}` as never).compile()
  const slots: Array<{ name: N } | { value: unknown }> = compiled.parameters.map((value) => {
    if (typeof value === 'string' && value.startsWith(MARK)) {
      const name = value.slice(MARK.length) as N
      if (!names.includes(name)) throw new Error(`prepareQuery: unknown parameter ${name}`)
      return { name }
    }
    return { value }
  })
  for (const name of names)
    if (!slots.some((slot) => 'name' in slot && slot.name === name)) throw new Error(`prepareQuery: parameter ${name} is not used`)
  const { sql, query } = compiled
  return (values) => ({
    sql,
    query,
    queryId: createQueryId(),
    parameters: slots.map((slot) => ('name' in slot ? values[slot.name] : slot.value))
  })
}
