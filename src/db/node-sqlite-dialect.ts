/**
 * Kysely over node:sqlite (ships with Node 24: no native build). Kysely's SqliteDialect takes
 * a database with `prepare(sql)` whose statements have `all/run/iterate` and a `reader` flag;
 * node:sqlite's StatementSync has the first three and `columns()`, from which `reader` follows.
 *
 * Two changes to Kysely's SQLite behaviour:
 * - transactions start with BEGIN IMMEDIATE: the write lock is taken at the start, so two
 *   writers (even in two processes on one file) serialize instead of one failing at COMMIT;
 * - the adapter says DDL is transactional (it is in SQLite), so that the Migrator runs every
 *   pending migration in one such transaction: two processes migrating at once serialize, and
 *   a failed migration leaves nothing half-applied.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite'
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDatabase,
  type SqliteStatement
} from 'kysely'

type SqlParameters = SQLInputValue[]

function statement(prepared: StatementSync): SqliteStatement {
  return {
    reader: prepared.columns().length > 0,
    all: (parameters) => prepared.all(...(parameters as SqlParameters)),
    run: (parameters) => prepared.run(...(parameters as SqlParameters)),
    iterate: (parameters) => prepared.iterate(...(parameters as SqlParameters)) as IterableIterator<unknown>
  }
}

/**
 * Prepared statements kept per SQL text: the queries are parameterized, so their texts are few,
 * and preparing each again on every request was the largest cost the storage bench profiled.
 * Bounded all the same (a query built with varying text would otherwise grow it).
 */
const MAX_PREPARED = 256

/** node:sqlite's DatabaseSync as Kysely's SqliteDatabase. */
export function asKyselyDatabase(database: DatabaseSync): SqliteDatabase {
  const prepared = new Map<string, SqliteStatement>()
  return {
    close: () => {
      prepared.clear()
      if (database.isOpen) database.close()
    },
    prepare: (sql) => {
      let cached = prepared.get(sql)
      if (cached === undefined) {
        if (prepared.size >= MAX_PREPARED) prepared.clear()
        cached = statement(database.prepare(sql))
        prepared.set(sql, cached)
      }
      return cached
    }
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true
  }
}

export class NodeSqliteDialect extends SqliteDialect {
  readonly #database: SqliteDatabase

  constructor(database: DatabaseSync) {
    const adapted = asKyselyDatabase(database)
    super({ database: adapted })
    this.#database = adapted
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: this.#database })
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter()
  }
}
