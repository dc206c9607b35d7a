// A node-opcua client that behaves like a PLC (tests, benchmark): resolves the namespace by URI, reads and
// writes `<Station>.<Group>.<Name>` values, calls station methods.
import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import {
  AttributeIds, type ClientSession, DataType, MessageSecurityMode, OPCUACertificateManager, OPCUAClient, SecurityPolicy,
  type StatusCode, UserTokenType, type Variant, type VariantOptions,
} from 'node-opcua';
import { NAMESPACE_URI } from '../../adapters/opcua/sink.ts';

export interface PlcClientOptions {
  pkiDir: string; // the client's own PKI (its certificate is created there on first use)
  securityMode?: MessageSecurityMode;
  securityPolicy?: SecurityPolicy;
}

export function makeClient(o: PlcClientOptions): OPCUAClient {
  const clientCertificateManager = new OPCUACertificateManager({ rootFolder: o.pkiDir, automaticallyAcceptUnknownCertificate: true });
  return OPCUAClient.create({
    applicationName: 'test-plc',
    securityMode: o.securityMode ?? MessageSecurityMode.SignAndEncrypt,
    securityPolicy: o.securityPolicy ?? SecurityPolicy.Basic256Sha256,
    endpointMustExist: false,
    clientCertificateManager,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    requestedSessionTimeout: 60_000,
  });
}

/** Moves every certificate in the server's pki/rejected into pki/trusted/certs (what an admin does), then gives
 *  the server's PKI folder watcher a moment to see it. */
export async function trustRejected(serverPkiDir: string): Promise<string[]> {
  const rejected = join(serverPkiDir, 'rejected');
  const moved = readdirSync(rejected).filter((f) => f.endsWith('.pem') || f.endsWith('.der'));
  for (const f of moved) renameSync(join(rejected, f), join(serverPkiDir, 'trusted', 'certs', f));
  await new Promise((r) => setTimeout(r, 1000));
  return moved;
}

export class Plc {
  private constructor(readonly client: OPCUAClient, readonly session: ClientSession, readonly ns: number, readonly station: string) {}

  static async connect(url: string, o: PlcClientOptions & { user?: string; password?: string; station: string }): Promise<Plc> {
    const client = makeClient(o);
    await client.connect(url);
    try {
      const session = o.user
        ? await client.createSession({ type: UserTokenType.UserName, userName: o.user, password: o.password ?? '' })
        : await client.createSession();
      const ns = (await session.readNamespaceArray()).indexOf(NAMESPACE_URI);
      if (ns < 0) throw new Error(`namespace ${NAMESPACE_URI} not on the server`);
      return new Plc(client, session, ns, o.station);
    } catch (err) {
      await client.disconnect();
      throw err;
    }
  }

  id(path: string) {
    return `ns=${this.ns};s=${path.startsWith('Agent') ? path : `${this.station}.${path}`}`;
  }
  async read(path: string): Promise<unknown> {
    const dv = await this.session.read({ nodeId: this.id(path), attributeId: AttributeIds.Value });
    if (!dv.statusCode.isGood()) throw new Error(`read ${path}: ${dv.statusCode.toString()}`);
    return dv.value.value;
  }
  async readMany(paths: string[]): Promise<Record<string, unknown>> {
    const dvs = await this.session.read(paths.map((p) => ({ nodeId: this.id(p), attributeId: AttributeIds.Value })));
    return Object.fromEntries(paths.map((p, i) => [p, dvs[i]!.value.value]));
  }
  write(path: string, dataType: DataType, value: unknown): Promise<StatusCode> {
    return this.session.write({ nodeId: this.id(path), attributeId: AttributeIds.Value, value: { value: { dataType, value } } });
  }
  async call(method: string, args: VariantOptions[]): Promise<{ statusCode: StatusCode; outputs: unknown[] }> {
    const r = await this.session.call({ objectId: `ns=${this.ns};s=${this.station}`, methodId: `ns=${this.ns};s=${this.station}.${method}`, inputArguments: args });
    return { statusCode: r.statusCode, outputs: (r.outputArguments ?? []).map((v: Variant) => v.value) };
  }
  async until(path: string, pred: (v: unknown) => boolean, timeoutMs = 5000): Promise<unknown> {
    const t0 = Date.now();
    for (;;) {
      const v = await this.read(path);
      if (pred(v)) return v;
      if (Date.now() - t0 > timeoutMs) throw new Error(`${path} stayed ${String(v)} for ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  async close() {
    await this.session.close().catch(() => {});
    await this.client.disconnect();
  }
}
