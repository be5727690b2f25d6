/**
 * Artifacts in an S3-compatible bucket, through the official AWS SDK v3. A key is an object key
 * under the store's prefix; the sha256 and write time ride along as object metadata.
 *
 * Atomic replace comes from S3 itself: an object appears when its PutObject or multipart upload
 * completes, whole. A streamed put (size unknown up front) is uploaded to `.incoming/<random>`
 * while it is hashed, then copied onto its key with the sha256 as metadata; a writer that dies
 * part-way leaves an unfinished multipart upload or an `.incoming` object, invisible at the key
 * and removed by purgeIncomplete(). A streamed read pins the object's ETag (If-Match), so a
 * replace during the read fails the read rather than splicing two versions.
 *
 * Credentials come from the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a
 * profile, an instance role): never from the store URL, which is stored in Redis and logged.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash } from 'node:crypto';
import { bodyChunks, checkExpected, readAll, sha256Hex, verified } from './body.js';
import {
  checkArtifactKey,
  checkArtifactPrefix,
  type ArtifactBody,
  type ArtifactInfo,
  type ArtifactStore,
  type OpenedArtifact,
  type PutOptions,
  type StoredArtifact,
} from './store.js';

export interface S3ArtifactStoreOptions {
  bucket: string;
  /** Key prefix inside the bucket ('' or ending in '/'). */
  prefix?: string;
  /** An S3-compatible endpoint (MinIO, Ceph, a local test server); default: AWS. */
  endpoint?: string;
  region?: string;
  /** Path-style URLs (bucket in the path): what most S3-compatible servers need. */
  forcePathStyle?: boolean;
  credentials?: S3ClientConfig['credentials'];
  /** Multipart part size in bytes; default 8 MiB (S3's minimum is 5 MiB). */
  partSize?: number;
}

const INCOMING = '.incoming/';

const notFound = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
};

export class S3ArtifactStore implements ArtifactStore {
  readonly scheme = 's3' as const;
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private closed = false;

  constructor(options: S3ArtifactStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? '';
    if (this.prefix !== '' && !this.prefix.endsWith('/')) this.prefix += '/';
    if (this.prefix !== '') checkArtifactPrefix(this.prefix);
    this.partSize = options.partSize ?? 8 * 1024 * 1024;
    this.location = `s3://${this.bucket}/${this.prefix}${options.endpoint === undefined ? '' : ` at ${options.endpoint}`}`;
    this.client = new S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      // The sha256 is ours; extra checksum headers only confuse S3-compatible servers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private objectKey(key: string): string {
    checkArtifactKey(key);
    return this.prefix + key;
  }

  private async upload(
    objectKey: string,
    body: Uint8Array | Readable,
    metadata?: Record<string, string>,
  ): Promise<void> {
    await new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: objectKey,
        Body: body,
        ...(metadata === undefined ? {} : { Metadata: metadata }),
      },
      partSize: this.partSize,
      queueSize: 2,
      // A failed multipart upload is aborted, so no parts linger (purgeIncomplete catches the
      // uploads of a process that died outright).
      leavePartsOnError: false,
    }).done();
  }

  async put(key: string, body: ArtifactBody, options: PutOptions = {}): Promise<ArtifactInfo> {
    const objectKey = this.objectKey(key);
    if (body instanceof Uint8Array) {
      const sha256 = sha256Hex(body);
      checkExpected(key, options.sha256, sha256);
      const savedAt = Date.now();
      await this.upload(objectKey, body, { sha256, 'saved-at': String(savedAt) });
      return { key, bytes: body.length, sha256, savedAt };
    }
    const hash = createHash('sha256');
    let bytes = 0;
    async function* hashing(): AsyncGenerator<Buffer> {
      for await (const chunk of bodyChunks(body)) {
        hash.update(chunk);
        bytes += chunk.length;
        yield Buffer.from(chunk); // copy: the caller may reuse its chunk
      }
    }
    const incoming = `${this.prefix}${INCOMING}${randomUUID()}`;
    try {
      await this.upload(incoming, Readable.from(hashing()));
      const sha256 = hash.digest('hex');
      checkExpected(key, options.sha256, sha256);
      const savedAt = Date.now();
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: objectKey,
          CopySource: `${this.bucket}/${incoming.split('/').map(encodeURIComponent).join('/')}`,
          MetadataDirective: 'REPLACE',
          Metadata: { sha256, 'saved-at': String(savedAt) },
        }),
      );
      return { key, bytes, sha256, savedAt };
    } finally {
      await this.client
        .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: incoming }))
        .catch(() => undefined);
    }
  }

  async info(key: string): Promise<ArtifactInfo | null> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      return {
        key,
        bytes: head.ContentLength ?? 0,
        sha256: head.Metadata?.sha256 ?? '',
        savedAt: Number(head.Metadata?.['saved-at'] ?? head.LastModified?.getTime() ?? 0),
      };
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
  }

  async open(key: string): Promise<OpenedArtifact | null> {
    const objectKey = this.objectKey(key);
    let head;
    try {
      head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (err) {
      if (notFound(err)) return null;
      throw err;
    }
    const info: ArtifactInfo = {
      key,
      bytes: head.ContentLength ?? 0,
      sha256: head.Metadata?.sha256 ?? '',
      savedAt: Number(head.Metadata?.['saved-at'] ?? head.LastModified?.getTime() ?? 0),
    };
    const { client, bucket, location } = this;
    const etag = head.ETag;
    async function* source(): AsyncGenerator<Uint8Array> {
      const got = await client
        .send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: objectKey,
            ...(etag === undefined ? {} : { IfMatch: etag }),
          }),
        )
        .catch((err: unknown) => {
          const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata
            ?.httpStatusCode;
          if (status === 412 || notFound(err)) {
            throw new Error(`artifact ${key} in ${location} was replaced while being read`);
          }
          throw err;
        });
      // A test server streaming from a file that is replaced mid-read may cut the body short
      // or drop the connection; real S3 serves the version it started. Either way: if the
      // object changed meanwhile, say so (get() reads the new one); else it is an I/O error.
      const changed = async (): Promise<boolean> => {
        const now = await client
          .send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey }))
          .catch(() => null);
        return now?.ETag !== etag;
      };
      const replaced = (cause?: unknown): Error =>
        new Error(`artifact ${key} in ${location} was replaced while being read`, { cause });
      let received = 0;
      try {
        for await (const part of got.Body as AsyncIterable<Uint8Array>) {
          received += part.length;
          yield part;
        }
      } catch (err) {
        if (await changed()) throw replaced(err);
        throw err;
      }
      if (received !== info.bytes && (await changed())) throw replaced();
    }
    return { ...info, chunks: () => verified(location, key, info, source()) };
  }

  async get(key: string): Promise<StoredArtifact | null> {
    for (let attempt = 0; ; attempt++) {
      const opened = await this.open(key);
      if (opened === null) return null;
      try {
        return await readAll(opened);
      } catch (err) {
        if (attempt >= 2 || !/replaced while being read/.test(String(err))) throw err;
      }
    }
  }

  async delete(key: string): Promise<boolean> {
    const existed = (await this.info(key)) !== null;
    await this.client.send(
      new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
    );
    return existed;
  }

  private async listObjects(
    prefix: string,
  ): Promise<{ key: string; bytes: number; modified: number }[]> {
    const out: { key: string; bytes: number; modified: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        out.push({ key: o.Key, bytes: o.Size ?? 0, modified: o.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  async list(prefix = ''): Promise<ArtifactInfo[]> {
    checkArtifactPrefix(prefix);
    const objects = await this.listObjects(this.prefix + prefix);
    return objects
      .map((o) => ({ ...o, key: o.key.slice(this.prefix.length) }))
      .filter((o) => !o.key.startsWith(INCOMING))
      .map((o) => ({ key: o.key, bytes: o.bytes, sha256: '', savedAt: o.modified }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async purgeIncomplete(olderThanMs: number): Promise<{ items: number; bytes: number }> {
    const cutoff = Date.now() - olderThanMs;
    let items = 0;
    let bytes = 0;
    for (const o of await this.listObjects(this.prefix + INCOMING)) {
      if (o.modified > cutoff) continue;
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: o.key }));
      items++;
      bytes += o.bytes;
    }
    // Servers without ListMultipartUploads (s3rver) answer NotImplemented: their dead uploads
    // stay until a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them.
    const uploads = await this.client
      .send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix }))
      .catch((err: unknown) => {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name === 'NotImplemented' || e.$metadata?.httpStatusCode === 501) return {};
        throw err;
      });
    for (const u of ('Uploads' in uploads ? uploads.Uploads : undefined) ?? []) {
      if (u.Key === undefined || u.UploadId === undefined) continue;
      if ((u.Initiated?.getTime() ?? 0) > cutoff) continue;
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }),
      );
      items++;
    }
    return { items, bytes };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }
}
