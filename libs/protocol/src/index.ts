/**
 * @mmim/protocol: the gRPC contract between the coordinator and its workers (package mmim.v1).
 *
 * ```ts
 * import * as grpc from '@grpc/grpc-js';
 * import { loadProtocol, CLIENT_CHANNEL_OPTIONS, JOIN_TOKEN_METADATA_KEY } from '@mmim/protocol';
 *
 * const { mmim } = loadProtocol();
 * const client = new mmim.v1.WorkerRegistry(address, grpc.credentials.createInsecure(),
 *   CLIENT_CHANNEL_OPTIONS);
 * const md = new grpc.Metadata();
 * md.set(JOIN_TOKEN_METADATA_KEY, token);
 * ```
 *
 * The .proto files are in proto/; the types in src/generated/ come from
 * `npm run -w libs/protocol generate` (docs/protocol.md).
 */
export {
  CLIENT_CHANNEL_OPTIONS,
  deadlineIn,
  DEFAULT_LEASE_MS,
  DEFAULT_PORT,
  HEARTBEATS_PER_LEASE,
  JOIN_TOKEN_METADATA_KEY,
  MAX_MESSAGE_BYTES,
  SERVER_CHANNEL_OPTIONS,
  UNARY_DEADLINES_MS,
} from './constants.js';
export {
  checkHealth,
  HealthImplementation,
  WORKER_REGISTRY_SERVICE,
  type ServingStatus,
} from './health.js';
export {
  LOADER_OPTIONS,
  loadProtocol,
  PROTO_DIR,
  WORKER_PROTO_PATH,
  type LoadedProtocol,
} from './load.js';
export { WorkerState } from './generated/mmim/v1/WorkerState.js';
export type { WorkerState__Output } from './generated/mmim/v1/WorkerState.js';
export type { Ack, Ack__Output } from './generated/mmim/v1/Ack.js';
export type { AssignTrial, AssignTrial__Output } from './generated/mmim/v1/AssignTrial.js';
export type { Capabilities, Capabilities__Output } from './generated/mmim/v1/Capabilities.js';
export type { GpuAdapter, GpuAdapter__Output } from './generated/mmim/v1/GpuAdapter.js';
export type { GpuLimits, GpuLimits__Output } from './generated/mmim/v1/GpuLimits.js';
export type {
  CoordinatorMessage,
  CoordinatorMessage__Output,
} from './generated/mmim/v1/CoordinatorMessage.js';
export type { Heartbeat, Heartbeat__Output } from './generated/mmim/v1/Heartbeat.js';
export type { MetricPoint, MetricPoint__Output } from './generated/mmim/v1/MetricPoint.js';
export type { Ping, Ping__Output } from './generated/mmim/v1/Ping.js';
export type {
  RegisterRequest,
  RegisterRequest__Output,
} from './generated/mmim/v1/RegisterRequest.js';
export type {
  RegisterResponse,
  RegisterResponse__Output,
} from './generated/mmim/v1/RegisterResponse.js';
export type { Stop, Stop__Output } from './generated/mmim/v1/Stop.js';
export type { EpochReport, EpochReport__Output } from './generated/mmim/v1/EpochReport.js';
export type { TrialEnded, TrialEnded__Output } from './generated/mmim/v1/TrialEnded.js';
export { TrialOutcome } from './generated/mmim/v1/TrialOutcome.js';
export type { TrialOutcome__Output } from './generated/mmim/v1/TrialOutcome.js';
export type { WorkerMessage, WorkerMessage__Output } from './generated/mmim/v1/WorkerMessage.js';
export type {
  WorkerRegistryClient,
  WorkerRegistryDefinition,
  WorkerRegistryHandlers,
} from './generated/mmim/v1/WorkerRegistry.js';
export type { ProtoGrpcType } from './generated/worker.js';
