/**
 * TLS and mutual TLS: certificates made with openssl for 127.0.0.1 (skipped where openssl is
 * missing); an in-process coordinator and raw clients.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  checkHealth,
  JOIN_TOKEN_METADATA_KEY,
  loadProtocol,
  type RegisterResponse__Output,
} from '@mmim/protocol';
import { createLogger } from '@mmim/runtime';
import { Coordinator } from '../coordinator.js';

const TOKEN = 'tls-token-0123456789abcdef';
const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A CA, a server certificate for IP 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCerts(dir: string): void {
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=mmim-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  );
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    fs.writeFileSync(path.join(dir, `${name}.ext`), `${ext}\n`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
  }
}

describe(
  'coordinator over mutual TLS',
  { skip: !hasOpenssl && 'openssl not installed', timeout: 30_000 },
  () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-tls-'));
    const file = (name: string): Buffer => fs.readFileSync(path.join(dir, name));
    let coordinator: Coordinator;

    before(async () => {
      makeCerts(dir);
      coordinator = await Coordinator.start({
        host: '127.0.0.1',
        port: 0,
        joinToken: TOKEN,
        leaseMs: 3000,
        tls: {
          certFile: path.join(dir, 'server.pem'),
          keyFile: path.join(dir, 'server.key'),
          caFile: path.join(dir, 'ca.pem'),
        },
        log: createLogger('coordinator'),
      });
    });

    after(async () => {
      await coordinator.close(200);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const register = (creds: grpc.ChannelCredentials): Promise<RegisterResponse__Output> => {
      const { WorkerRegistry } = loadProtocol().mmim.v1;
      const client = new WorkerRegistry(coordinator.address, creds);
      const md = new grpc.Metadata();
      md.set(JOIN_TOKEN_METADATA_KEY, TOKEN);
      return new Promise<RegisterResponse__Output>((resolve, reject) => {
        client.Register(
          { capabilities: { workerName: 'tls', backend: 'cpu' } },
          md,
          { deadline: Date.now() + 3000 },
          (err, res) => (err || !res ? reject(err ?? new Error('no response')) : resolve(res)),
        );
      }).finally(() => client.close());
    };

    it('admits a client with a certificate signed by the CA', async () => {
      const creds = grpc.credentials.createSsl(
        file('ca.pem'),
        file('client.key'),
        file('client.pem'),
      );
      const res = await register(creds);
      assert.ok(res.workerId.length > 0);
      assert.equal(await checkHealth(coordinator.address, creds), 'SERVING');
    });

    it('refuses a client without a certificate at the TLS handshake', async () => {
      await assert.rejects(
        register(grpc.credentials.createSsl(file('ca.pem'))),
        (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.UNAVAILABLE);
          return true;
        },
      );
    });

    it('refuses plain text', async () => {
      await assert.rejects(
        register(grpc.credentials.createInsecure()),
        (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.UNAVAILABLE);
          return true;
        },
      );
    });
  },
);
