import type { ChannelOptions } from '@grpc/grpc-js';

/** The coordinator's port when none is given (gRPC's customary one). */
export const DEFAULT_PORT = 50051;

/** The metadata entry carrying the join token on every worker call (keys must be lowercase). */
export const JOIN_TOKEN_METADATA_KEY = 'mmim-join-token';

/**
 * Control messages are tiny; 4 MiB (gRPC's default receive limit) leaves room for large
 * trial configs while refusing anything that looks like tensors sent on the wrong channel.
 * Set explicitly on both sides so that a library default change cannot make them disagree.
 */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** How long a worker stays alive without a heartbeat, unless the coordinator says otherwise. */
export const DEFAULT_LEASE_MS = 3000;

/** Workers heartbeat this many times per lease, so one or two lost beats do not expire it. */
export const HEARTBEATS_PER_LEASE = 3;

/** Default deadlines of every unary call, in ms. Streams have none: they live for the session. */
export const UNARY_DEADLINES_MS = {
  /** WorkerRegistry.Register. */
  register: 5000,
  /** grpc.health.v1.Health.Check. */
  healthCheck: 2000,
} as const;

/** A gRPC deadline `ms` from now. */
export function deadlineIn(ms: number): Date {
  return new Date(Date.now() + ms);
}

/**
 * Keepalive: heartbeats detect dead workers at the application level; HTTP/2 pings detect
 * half-open TCP connections (a peer that vanished without a FIN) so streams fail fast and the
 * worker reconnects. The server accepts pings as often as clients send them, so a client's
 * keepalive never triggers GOAWAY "too_many_pings".
 */
export const SERVER_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};

export const CLIENT_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  // Reconnect quickly after a coordinator restart; the worker adds its own backoff on top.
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5_000,
};
