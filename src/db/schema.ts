/**
 * The tables, as Kysely sees them. One schema for both engines: text, integers and ISO 8601
 * UTC timestamps as text (they sort as they read), so that the same queries run on both.
 */
import type { ColumnType, Generated } from 'kysely'

/** One row per owner (issuer, kind, id): how many messages it holds, and the last sequence number it used. */
export interface OwnersTable {
  issuer: string
  kind: string
  owner_id: string
  message_count: Generated<number>
  last_seq: Generated<number>
}

export interface MessagesTable {
  id: string
  issuer: string
  kind: string
  owner_id: string
  /** Per owner, increasing: the order of the list (newest first) and the cursor. */
  seq: number
  text: string
  created_at: string
}

/** DPoP proofs seen (src/dpop/replay-store.ts), until their `iat` window has passed. */
export interface DpopProofsTable {
  /** The proof's key, as the replay check gives it (a short base64url hash). */
  key: string
  /** Epoch seconds; a bigint, which PostgreSQL returns as a string. */
  expires_at: ColumnType<number | string, number, number>
}

export interface Schema {
  owners: OwnersTable
  messages: MessagesTable
  dpop_proofs: DpopProofsTable
}
