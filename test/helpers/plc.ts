// A PLC client on a test daemon's OPC UA server, connected the way an integrator does it on site: the first attempt
// lands the client certificate in the server's pki/rejected, it is trusted, the next attempt works.
import { join } from 'node:path';
import type { Harness } from './harness.ts';
import { makeClient, Plc, trustRejected } from './plc-client.ts';

export interface PlcLogin {
  user: string;
  password: string;
  station?: string;
  /** false when the certificate is already trusted (a reconnect after a daemon restart on the same data dir). */
  trust?: boolean;
}

export async function connectPlc(h: Harness, clientPki: string, login: PlcLogin): Promise<Plc> {
  await h.daemon.sinksStarted;
  const url = h.daemon.northbound.endpointUrls()[0];
  if (!url) throw new Error('no OPC UA endpoint: is opcua enabled in the test config?');
  if (login.trust !== false) {
    const probe = makeClient({ pkiDir: clientPki });
    await probe.connect(url).catch(() => {});
    await probe.disconnect();
    await trustRejected(join(h.dataDir, 'pki'));
  }
  return Plc.connect(url, { pkiDir: clientPki, user: login.user, password: login.password, station: login.station ?? 'ST1' });
}
