// Username/password users and their roles. plc → Operator (writes Control/Recipe), operator → Operator + Engineer
// (also calls methods), viewer → Observer. Passwords are compared in constant time; hashes use scrypt.
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { makeRoles, type NodeId, WellKnownRoles } from 'node-opcua';
import type { OpcUaUser } from './config.ts';

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('hex')}$${scryptSync(password, salt, 32).toString('hex')}`;
}

function verify(user: OpcUaUser, password: string): boolean {
  if (user.passwordHash) {
    const [, saltHex, keyHex] = user.passwordHash.split('$');
    const key = Buffer.from(keyHex!, 'hex');
    return timingSafeEqual(scryptSync(password, Buffer.from(saltHex!, 'hex'), key.length), key);
  }
  const a = Buffer.from(user.password ?? '');
  const b = Buffer.from(password);
  return a.length === b.length && timingSafeEqual(a, b);
}

export const ROLE_NODES = {
  plc: makeRoles([WellKnownRoles.Operator]),
  operator: makeRoles([WellKnownRoles.Operator, WellKnownRoles.Engineer]),
  viewer: makeRoles([WellKnownRoles.Observer]),
} satisfies Record<OpcUaUser['role'], NodeId[]>;

export function createUserManager(users: OpcUaUser[], demo: boolean) {
  const byName = new Map(users.map((u) => [u.username, u]));
  return {
    isValidUser(username: string, password: string): boolean {
      const u = byName.get(username);
      return !!u && verify(u, password);
    },
    getUserRoles(username: string): NodeId[] {
      const u = byName.get(username);
      if (u) return ROLE_NODES[u.role];
      // Anonymous sessions exist only in demo mode; there they may drive the station like an operator.
      return demo && username === 'anonymous' ? [...ROLE_NODES.operator, ...makeRoles([WellKnownRoles.Anonymous])] : makeRoles([WellKnownRoles.Anonymous]);
    },
  };
}
