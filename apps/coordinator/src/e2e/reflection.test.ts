/** Server reflection lists the coordinator's services (what grpcurl relies on). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createLogger } from '@mmim/runtime';
import { Coordinator } from '../coordinator.js';

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
}
interface ReflectionClient extends grpc.Client {
  ServerReflectionInfo(): grpc.ClientDuplexStream<{ listServices: string }, ReflectionResponse>;
}
type ReflectionCtor = new (address: string, creds: grpc.ChannelCredentials) => ReflectionClient;

describe('server reflection', () => {
  let coordinator: Coordinator;
  before(async () => {
    coordinator = await Coordinator.start({
      host: '127.0.0.1',
      port: 0,
      joinToken: 'reflection-token',
      leaseMs: 3000,
      log: createLogger('coordinator'),
    });
  });
  after(() => coordinator.close(200));

  it('lists mmim.v1.WorkerRegistry', async () => {
    const protoFile = createRequire(import.meta.url).resolve(
      '@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto',
    );
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoFile)) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: ReflectionCtor } } };
    };
    const client = new pkg.grpc.reflection.v1.ServerReflection(
      coordinator.address,
      grpc.credentials.createInsecure(),
    );
    try {
      const names = await new Promise<string[]>((resolve, reject) => {
        const call = client.ServerReflectionInfo();
        call.on('data', (r: ReflectionResponse) => {
          resolve((r.listServicesResponse?.service ?? []).map((s) => s.name));
          call.end();
        });
        call.on('error', reject);
        call.write({ listServices: '' });
      });
      assert.ok(names.includes('mmim.v1.WorkerRegistry'), names.join(', '));
    } finally {
      client.close();
    }
  });
});
