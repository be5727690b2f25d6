import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { CLIENT_CHANNEL_OPTIONS, deadlineIn, UNARY_DEADLINES_MS } from './constants.js';

export { HealthImplementation, type ServingStatus } from 'grpc-health-check';

/** The fully-qualified name the coordinator reports health for, besides '' (the server). */
export const WORKER_REGISTRY_SERVICE = 'mmim.v1.WorkerRegistry';

type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

interface HealthCheckClient extends grpc.Client {
  check(
    request: { service: string },
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, response?: { status: HealthStatus }) => void,
  ): grpc.ClientUnaryCall;
}

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');

/**
 * Asks `grpc.health.v1.Health/Check` at `address` for `service` ('' = the whole server),
 * e.g. for readiness probes and tests. Rejects with the gRPC error when the call fails.
 */
export async function checkHealth(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  service = '',
): Promise<HealthStatus> {
  const client = new HealthClient(
    address,
    credentials,
    CLIENT_CHANNEL_OPTIONS,
  ) as unknown as HealthCheckClient;
  try {
    return await new Promise<HealthStatus>((resolve, reject) => {
      client.check(
        { service },
        { deadline: deadlineIn(UNARY_DEADLINES_MS.healthCheck) },
        (err, res) => (err ? reject(err) : resolve(res?.status ?? 'UNKNOWN')),
      );
    });
  } finally {
    client.close();
  }
}
