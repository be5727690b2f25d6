/**
 * What a WebGPU adapter needs from the system, checked without loading anything, so that "no
 * adapter" can be reported as the one missing piece (a library, a Vulkan driver manifest, EGL)
 * instead of Dawn's multi-line native warnings.
 *
 * Dawn loads `libvulkan.so.1` (the Vulkan loader), which reads ICD manifests (JSON files naming a
 * driver library, e.g. NVIDIA's `nvidia_icd.json`); its OpenGL ES route loads `libEGL.so.1`
 * (glvnd), which needs a vendor manifest (Mesa's or NVIDIA's) in `egl_vendor.d`.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Where the loaders look (Debian/Ubuntu multiarch, RHEL lib64, NVIDIA's container toolkit). */
const LIBRARY_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/usr/local/lib',
  '/usr/local/nvidia/lib64',
];
const VULKAN_ICD_DIRS = [
  '/etc/vulkan/icd.d',
  '/usr/share/vulkan/icd.d',
  '/usr/local/share/vulkan/icd.d',
  '/usr/local/nvidia/share/vulkan/icd.d',
];
const EGL_VENDOR_DIRS = [
  '/etc/glvnd/egl_vendor.d',
  '/usr/share/glvnd/egl_vendor.d',
  '/usr/local/share/glvnd/egl_vendor.d',
  '/usr/local/nvidia/share/glvnd/egl_vendor.d',
];

export interface SystemLibraries {
  /** Full path of libvulkan.so.1, or null. */
  vulkanLoader: string | null;
  /** Vulkan ICD manifests found (VK_DRIVER_FILES / VK_ICD_FILENAMES first). */
  vulkanIcds: string[];
  /** Full path of libEGL.so.1, or null. */
  egl: string | null;
  /** EGL vendor manifests found (__EGL_VENDOR_LIBRARY_FILENAMES first). */
  eglVendors: string[];
  /** Render or NVIDIA device nodes (/dev/dri/renderD*, /dev/nvidia0...). */
  gpuDeviceNodes: string[];
}

function libraryDirs(env: NodeJS.ProcessEnv): string[] {
  const extra = (env['LD_LIBRARY_PATH'] ?? '').split(':').filter((d) => d.length > 0);
  return [...extra, ...LIBRARY_DIRS];
}

function findLibrary(name: string, dirs: readonly string[]): string | null {
  for (const dir of dirs) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

function listJson(dirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names.sort()) if (n.endsWith('.json')) out.push(path.join(dir, n));
  }
  return out;
}

function fromEnvList(value: string | undefined): string[] {
  return (value ?? '').split(':').filter((p) => p.length > 0 && fs.existsSync(p));
}

function deviceNodes(): string[] {
  const out: string[] = [];
  try {
    for (const n of fs.readdirSync('/dev/dri'))
      if (n.startsWith('renderD')) out.push(`/dev/dri/${n}`);
  } catch {
    // no DRM devices
  }
  try {
    for (const n of fs.readdirSync('/dev')) if (/^nvidia\d+$/.test(n)) out.push(`/dev/${n}`);
  } catch {
    // unreadable /dev
  }
  return out;
}

export function findSystemLibraries(env: NodeJS.ProcessEnv = process.env): SystemLibraries {
  const dirs = libraryDirs(env);
  const icdOverride = fromEnvList(env['VK_DRIVER_FILES'] ?? env['VK_ICD_FILENAMES']);
  const eglOverride = fromEnvList(env['__EGL_VENDOR_LIBRARY_FILENAMES']);
  return {
    vulkanLoader: findLibrary('libvulkan.so.1', dirs),
    vulkanIcds: icdOverride.length > 0 ? icdOverride : listJson(VULKAN_ICD_DIRS),
    egl: findLibrary('libEGL.so.1', dirs),
    eglVendors: eglOverride.length > 0 ? eglOverride : listJson(EGL_VENDOR_DIRS),
    gpuDeviceNodes: deviceNodes(),
  };
}

/** A Vulkan ICD manifest of a CPU rasteriser (Mesa's lavapipe, SwiftShader). */
export function isSoftwareIcd(file: string): boolean {
  return /lvp|lavapipe|swiftshader/i.test(path.basename(file));
}

/**
 * Why each WebGPU route cannot work here, in a few words per route (empty when nothing is
 * visibly missing, e.g. the driver is there but refuses the adapter).
 */
export function missingPieces(libs: SystemLibraries): { vulkan: string[]; opengles: string[] } {
  const vulkan: string[] = [];
  if (libs.vulkanLoader === null) vulkan.push('libvulkan.so.1 not found (Debian: libvulkan1)');
  const hardwareIcds = libs.vulkanIcds.filter((f) => !isSoftwareIcd(f));
  if (libs.vulkanIcds.length === 0)
    vulkan.push('no Vulkan ICD manifest (e.g. nvidia_icd.json in /usr/share/vulkan/icd.d)');
  else if (hardwareIcds.length === 0)
    vulkan.push(
      `only software Vulkan ICDs (${libs.vulkanIcds.map((f) => path.basename(f)).join(', ')})`,
    );
  const opengles: string[] = [];
  if (libs.egl === null)
    opengles.push('libEGL.so.1 not found (Debian: libegl1 libegl-mesa0 libgles2)');
  if (libs.eglVendors.length === 0) opengles.push('no EGL vendor manifest (glvnd egl_vendor.d)');
  return { vulkan, opengles };
}
