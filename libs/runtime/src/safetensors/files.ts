import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { parseSafetensors } from './parse.js';
import { planSafetensors, tensorBytes, type SafetensorsInput } from './serialize.js';
import type { SafetensorsFile } from './types.js';

/** Reads and validates a safetensors file; errors name the file. Tensors view the file bytes. */
export async function readSafetensorsFile(file: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readFile(file), file);
}

/**
 * Writes a safetensors file so that readers see either the old file or the complete new one:
 * the bytes go to a temporary file in the same directory, which is fsynced and then renamed
 * over `file`; the directory is fsynced so the rename survives a crash. Each tensor is written
 * straight from its data (no copy of the whole file in memory).
 */
export async function writeSafetensorsFileAtomic(
  file: string,
  tensors: SafetensorsInput,
  metadata?: Record<string, string>,
): Promise<void> {
  const plan = planSafetensors(tensors, metadata); // validates before touching the disk
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx');
  try {
    try {
      await writeAll(handle, plan.head);
      for (const { tensor } of plan.tensors) await writeAll(handle, tensorBytes(tensor));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
}

/** A single write may be partial (and Linux caps one at ~2 GiB): loop until done. */
async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(
      bytes,
      done,
      Math.min(bytes.length - done, 1 << 30),
    );
    done += bytesWritten;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the data itself is synced already.
  } finally {
    await handle.close();
  }
}
