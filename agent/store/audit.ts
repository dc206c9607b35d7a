// The audit log: who changed products, shots and stations, and when. Written inside the change's own transaction.
import type { Db } from './db.ts';

export type AuditWriter = (actor: string, action: string, detail: unknown) => void;

export interface AuditEntry { id: number; at: number; actor: string; action: string; detail: unknown }

export function auditWriter(db: Db): AuditWriter {
  const insert = db.prepare('INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)');
  return (actor, action, detail) => void insert.run(Date.now(), actor, action, JSON.stringify(detail));
}

export function readAuditLog(db: Db, limit: number): AuditEntry[] {
  return (db.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(limit) as { id: number; at: number; actor: string; action: string; detail: string }[])
    .map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown }));
}
