/** Test helpers: the backend contract suite and a real local S3 server. */
export {
  artifactStoreContract,
  bytes,
  type ContractBackend,
  type ContractFixture,
} from './contract.js';
export { startS3Server, type S3ServerHandle } from './s3-server.js';
