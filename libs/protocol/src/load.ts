import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/worker.js';

/** Where the .proto files live (the include root: `mmim/v1/worker.proto` is under it). */
export const PROTO_DIR = fileURLToPath(new URL('../proto', import.meta.url));
export const WORKER_PROTO_PATH = path.join(PROTO_DIR, 'mmim/v1/worker.proto');

/**
 * Must match the flags in scripts/generate.mjs: the generated types describe the objects the
 * loader produces with exactly these options (camelCase fields, 64-bit ints as numbers, enums
 * as their names, defaults filled in, `kind` naming the set oneof field).
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export interface LoadedProtocol {
  /** For server reflection, which needs the raw definition. */
  packageDefinition: protoLoader.PackageDefinition;
  mmim: ProtoGrpcType['mmim'];
}

let cached: LoadedProtocol | undefined;

/** Loads (once per process) the mmim.v1 services and messages. */
export function loadProtocol(): LoadedProtocol {
  if (!cached) {
    const packageDefinition = protoLoader.loadSync('mmim/v1/worker.proto', LOADER_OPTIONS);
    // loadPackageDefinition returns an untyped GrpcObject; the generated ProtoGrpcType is its
    // shape for these loader options.
    const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType;
    cached = { packageDefinition, mmim: loaded.mmim };
  }
  return cached;
}
