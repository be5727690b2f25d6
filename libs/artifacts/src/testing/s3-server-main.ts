/**
 * Child-process entry of startS3Server: runs s3rver (whose package ships no CLI file) until
 * SIGTERM. argv: directory, port, bucket.
 */
import { createRequire } from 'node:module';

interface S3rverInstance {
  run(): Promise<unknown>;
  close(): Promise<unknown>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

const [directory, port, bucket] = process.argv.slice(2);
const S3rver = createRequire(import.meta.url)('@20minutes/s3rver') as S3rverClass;
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory,
  silent: true,
  vhostBuckets: false,
  // s3rver re-encodes '/' in a ListObjectsV2 prefix differently from the SDK's signer and then
  // refuses the signature; real S3 and MinIO accept it. So its check is off here (the SDK
  // still signs every request).
  allowMismatchedSignatures: true,
  configureBuckets: [{ name: bucket, configs: [] }],
});
await server.run();
process.stdout.write('listening\n');
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
