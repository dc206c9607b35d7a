// The audit log: who changed products, shots and stations, and when. Written inside the change's own transaction.
import type { Db } from './db.ts';

export type AuditWriter = (actor: string, action: string, detail: unknown) => void;

export interface AuditEntry { id: number; at: number; actor: string; action: string; detail: unknown }

export function auditWriter(db: Db): AuditWriter {
  const insert = db.prepare('INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)');
  return (actor, action, detail) => void insert.run(Date.now(), actor, action, JSON.stringify(detail));
}

/** What GET /api/audit may narrow the log to; every field optional, all given ones must hold. */
export interface AuditFilter {
  limit: number;
  /** A user name (agent/users.ts records `api:<user>@<client>`; the bearer token is user "api-token") or a whole actor ("opcua:plc"). */
  user?: string;
  /** An action ("product.delete") or its area ("product" matches product.*). */
  action?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  to?: number;
}

export function readAuditLog(db: Db, filter: AuditFilter): AuditEntry[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (filter.user !== undefined) {
    // substr, not LIKE: a user name may hold "_" or "%".
    where.push('(actor = ? OR substr(actor, 1, ?) = ?)');
    const prefix = `api:${filter.user}@`;
    args.push(filter.user, prefix.length, prefix);
  }
  if (filter.action !== undefined) {
    where.push('(action = ? OR substr(action, 1, ?) = ?)');
    args.push(filter.action, filter.action.length + 1, `${filter.action}.`);
  }
  if (filter.from !== undefined) (where.push('at >= ?'), args.push(filter.from));
  if (filter.to !== undefined) (where.push('at <= ?'), args.push(filter.to));
  const sql = `SELECT * FROM audit${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
  return (db.prepare(sql).all(...args, filter.limit) as { id: number; at: number; actor: string; action: string; detail: string }[])
    .map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown }));
}
