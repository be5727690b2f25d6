/**
 * deploy/docker: the Dockerfiles parse, reference only files that exist (and that their
 * .dockerignore lets through), use stages in order, end as a non-root user with a health
 * check, and keep dev dependencies out of the final image. No Docker engine needed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Env } from 'dockerfile-ast';
import {
  checkDockerfile,
  copyFrom,
  ignoreMatchers,
  stages,
  type Stage,
} from './dockerfile-check.js';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const DOCKER_DIR = path.join(REPO, 'deploy', 'docker');
const DOCKERFILES = ['coordinator.Dockerfile', 'worker-cpu.Dockerfile', 'worker-cuda.Dockerfile'];

function read(file: string): string {
  return fs.readFileSync(path.join(DOCKER_DIR, file), 'utf8');
}

/** Checks `text` (default: the file's own) with the .dockerignore of `ignoreOf`. */
function check(file: string, text = read(file), ignoreOf = file): string[] {
  return checkDockerfile(file, text, {
    context: REPO,
    dockerignore: read(`${ignoreOf}.dockerignore`),
  });
}

/** A mutated copy of worker-cpu.Dockerfile, checked as 'x'. */
function checkMutant(text: string): string[] {
  return check('x', text, 'worker-cpu.Dockerfile');
}

function runs(stage: Stage): string[] {
  return stage.instructions
    .filter((i) => i.getKeyword() === 'RUN')
    .map((i) => i.getArgumentsContent() ?? '');
}

/** Each COPY as its words, `--from=stage` first when it has one. */
function copies(stage: Stage): string[][] {
  return stage.instructions
    .filter((i) => i.getKeyword() === 'COPY')
    .map((i) => {
      const from = copyFrom(i);
      const args = i.getArguments().map((a) => a.getValue());
      return from === undefined ? args : [`--from=${from}`, ...args];
    });
}

/** The ENV values a stage sets (the last one wins, as in a build). */
function envOf(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of stage.instructions) {
    if (!(ins instanceof Env)) continue;
    for (const p of ins.getProperties()) env.set(p.getName(), p.getValue() ?? '');
  }
  return env;
}

/**
 * glibc and libstdc++ (GLIBCXX_3.4.N) of the Ubuntu releases the CUDA images come in, from their
 * packages (libc6, libstdc++6 from gcc-10 / 12 / 14).
 */
const UBUNTU_LIBS: Record<string, { glibc: number; glibcxx: number }> = {
  '20.04': { glibc: 31, glibcxx: 28 },
  '22.04': { glibc: 35, glibcxx: 30 },
  '24.04': { glibc: 39, glibcxx: 33 },
};

/** The newest GLIBC_2.N and GLIBCXX_3.4.N symbol versions a shared object asks for. */
function elfNeeds(file: string): { glibc: number; glibcxx: number } {
  const text = fs.readFileSync(file).toString('latin1');
  const newest = (re: RegExp): number =>
    Math.max(0, ...[...text.matchAll(re)].map((m) => Number(m[1])));
  return { glibc: newest(/GLIBC_2\.(\d+)\b/g), glibcxx: newest(/GLIBCXX_3\.4\.(\d+)\b/g) };
}

/** The workspaces' package.json files, from the root package.json's "workspaces" globs. */
function workspaceManifests(): string[] {
  const root = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
    workspaces: string[];
  };
  return root.workspaces.flatMap((glob) => {
    assert.match(glob, /^[\w-]+\/\*$/, `workspace glob '${glob}' is not of the form dir/*`);
    const dir = glob.slice(0, -2);
    return fs
      .readdirSync(path.join(REPO, dir))
      .filter((name) => fs.existsSync(path.join(REPO, dir, name, 'package.json')))
      .map((name) => `${dir}/${name}/package.json`);
  });
}

describe('deploy/docker', () => {
  it('finds no problem in any Dockerfile', () => {
    for (const file of DOCKERFILES) assert.deepEqual(check(file), [], file);
  });

  it('reports a missing COPY source, a stage used too early, root, no health check, dev installs', () => {
    const text = read('worker-cpu.Dockerfile');
    const missing = checkMutant(text.replace('COPY libs ./libs', 'COPY libz ./libs'));
    assert.equal(missing.length, 1);
    assert.match(missing[0]!, /^x:\d+: COPY libz: not in the build context$/);

    const ignored = checkMutant(
      text.replace('COPY libs ./libs', 'COPY libs/runtime/node_modules ./x'),
    );
    assert.ok(
      ignored.some((p) => /excluded by the .dockerignore/.test(p)),
      ignored.join('\n'),
    );

    const early = checkMutant(
      text.replace('COPY --from=deps /app ./', 'COPY --from=runtime /app ./'),
    );
    assert.ok(
      early.some((p) => /no stage 'runtime' defined before this line/.test(p)),
      early.join('\n'),
    );

    const root = checkMutant(text.replace('USER 10001:10001', 'USER root'));
    assert.ok(root.some((p) => /final stage runs as 'root'/.test(p)));
    const noUser = checkMutant(text.replace('USER 10001:10001', ''));
    assert.ok(noUser.some((p) => /final stage has no USER/.test(p)));

    const noHealth = checkMutant(text.replace(/HEALTHCHECK [^]*?\]\n/, ''));
    assert.ok(
      noHealth.some((p) => /no HEALTHCHECK/.test(p)),
      noHealth.join('\n'),
    );

    const devInstall = checkMutant(
      text.replace('USER 10001:10001', 'RUN npm ci --no-audit\nUSER 10001:10001'),
    );
    assert.ok(
      devInstall.some((p) => /installs packages without --omit=dev: 'npm ci --no-audit'/.test(p)),
    );
  });

  it('copies every workspace package.json before each install (npm ci needs them all)', () => {
    const manifests = workspaceManifests();
    assert.ok(manifests.length >= 10, `found ${manifests.length} workspaces`);
    for (const file of DOCKERFILES) {
      for (const stage of stages(read(file))) {
        if (!runs(stage).some((r) => /npm ci|install-prod-deps/.test(r))) continue;
        const copied = new Set(copies(stage).flatMap((args) => args.slice(0, -1)));
        for (const m of ['package.json', 'package-lock.json', ...manifests]) {
          assert.ok(copied.has(m), `${file} stage ${stage.name}: COPY ${m} missing`);
        }
      }
    }
  });

  it('builds the final image from production-only dependencies, the sources and the health check', () => {
    const prodDeps = fs.readFileSync(path.join(DOCKER_DIR, 'install-prod-deps.sh'), 'utf8');
    assert.match(prodDeps, /^npm ci --omit=dev --ignore-scripts/m);
    for (const file of DOCKERFILES) {
      const all = stages(read(file));
      const final = all.at(-1)!;
      const appFrom = copies(final).find((a) => a.includes('--from=deps') && a.includes('/app'));
      assert.ok(appFrom, `${file}: the final stage takes /app from the deps stage`);
      const deps = all.find((s) => s.name === 'deps')!;
      assert.ok(
        runs(deps).some((r) => /install-prod-deps (none|gpu)$/.test(r.trim())),
        file,
      );
      // Other stages may install dev dependencies (the dashboard's bundler), but the final
      // stage may take only their build output, never a node_modules.
      for (const args of copies(final).filter((a) => a.some((x) => x.startsWith('--from=')))) {
        const src = args.filter((x) => !x.startsWith('--')).slice(0, -1);
        if (args.includes('--from=deps')) continue;
        for (const s of src)
          assert.doesNotMatch(s, /node_modules|^\/app\/?$/, `${file}: ${args.join(' ')}`);
      }
      const copied = copies(final)
        .filter((a) => !a[0]!.startsWith('--'))
        .map((a) => a[0]);
      for (const needed of ['apps', 'libs', 'deploy/healthcheck', 'deploy/docker/entrypoint.sh']) {
        assert.ok(copied.includes(needed), `${file}: final stage copies ${needed}`);
      }
      const health = final.instructions.find((i) => i.getKeyword() === 'HEALTHCHECK')!;
      const script = /"(deploy\/healthcheck\/[\w-]+\.mjs)"/.exec(
        health.getArgumentsContent() ?? '',
      )?.[1];
      assert.ok(
        script && fs.existsSync(path.join(REPO, script)),
        `${file}: health check script exists`,
      );
      const entry = final.instructions.find((i) => i.getKeyword() === 'ENTRYPOINT')!;
      assert.match(
        entry.getArgumentsContent() ?? '',
        /"tini", "--", "sh", "\/usr\/local\/bin\/mmim-entrypoint"/,
      );
    }
  });

  it('declares every ARG used in a FROM, with a default', () => {
    for (const file of DOCKERFILES) {
      const text = read(file);
      const head = text.slice(0, text.search(/^FROM /m));
      const declared = new Map(
        [...head.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const),
      );
      for (const stage of stages(text)) {
        const used = /^\$\{(\w+)\}$/.exec(stage.image)?.[1];
        if (used)
          assert.ok(declared.get(used), `${file}: FROM \${${used}} without ARG ${used}=default`);
      }
    }
  });

  it('matches each flavour: wasm on CPU, CUDA 11 + cuDNN 8 for tfjs-node-gpu, the dashboard built', () => {
    const cpu = read('worker-cpu.Dockerfile');
    assert.match(cpu, /MMIM_BACKEND=wasm/);
    assert.match(cpu, /install-prod-deps none/);
    const cuda = read('worker-cuda.Dockerfile');
    // libtensorflow 2.9.1 opens CUDA 11 sonames and libcudnn.so.8: CUDA 11.x, cuDNN 8, and at
    // least 11.8 for kernels of Hopper GPUs (sm_90) in cuBLAS and cuDNN.
    assert.match(cuda, /^ARG CUDA_IMAGE=nvidia\/cuda:11\.8\.\d+-cudnn8-runtime-ubuntu[\d.]+$/m);
    assert.match(cuda, /MMIM_BACKEND=tensorflow-gpu/);
    assert.match(cuda, /install-prod-deps gpu/);
    assert.match(cuda, /COPY --from=node \/usr\/local\/bin\/node/);
    const coordinator = stages(read('coordinator.Dockerfile'));
    const dashboard = coordinator.find((s) => s.name === 'dashboard')!;
    assert.ok(runs(dashboard).includes('node apps/dashboard/scripts/build.mjs'));
    assert.ok(
      copies(coordinator.at(-1)!).some(
        (a) => a.join(' ') === '--from=dashboard /app/apps/dashboard/dist ./apps/dashboard/dist',
      ),
    );
    // The compiled CLI, built after the sources are copied in (its manifest hashes them).
    assert.ok(
      runs(dashboard).some((r) => r.startsWith('node apps/cli/scripts/build.mjs')),
      runs(dashboard).join('\n'),
    );
    assert.ok(
      copies(coordinator.at(-1)!).some(
        (a) => a.join(' ') === '--from=dashboard /app/apps/cli/dist ./apps/cli/dist',
      ),
    );
  });

  it('gives the CUDA image a base new enough for Dawn, and loads Dawn at build time', () => {
    const cuda = read('worker-cuda.Dockerfile');
    const ubuntu = /^ARG CUDA_IMAGE=\S+-ubuntu([\d.]+)$/m.exec(cuda)?.[1] ?? '';
    const has = UBUNTU_LIBS[ubuntu];
    assert.ok(has, `CUDA_IMAGE on Ubuntu '${ubuntu}', not one of ${Object.keys(UBUNTU_LIBS)}`);
    // dawn.node (npm `webgpu`, the webgpu backend) as installed: what it needs of the system.
    const dawn = path.join(REPO, 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node');
    const needs = elfNeeds(dawn);
    assert.ok(
      needs.glibc >= 17 && needs.glibcxx >= 9,
      `read ${JSON.stringify(needs)} from ${dawn}`,
    );
    assert.ok(
      has.glibc >= needs.glibc && has.glibcxx >= needs.glibcxx,
      `dawn.node needs GLIBC_2.${needs.glibc} and GLIBCXX_3.4.${needs.glibcxx}; Ubuntu ${ubuntu} ` +
        `has 2.${has.glibc} and 3.4.${has.glibcxx}`,
    );
    // The same pair refuses the Ubuntu 20.04 bases (the only ones CUDA 11.2 comes in).
    const focal = UBUNTU_LIBS['20.04']!;
    assert.ok(focal.glibc < needs.glibc || focal.glibcxx < needs.glibcxx);
    const final = stages(cuda).at(-1)!.instructions;
    const load = final.findIndex(
      (i) =>
        i.getKeyword() === 'RUN' &&
        i.getArgumentsContent() === `node --input-type=module -e "await import('webgpu')"`,
    );
    const deps = final.findIndex((i) => copyFrom(i) === 'deps');
    assert.ok(deps >= 0 && load > deps, 'Dawn is loaded once after the dependencies are in place');
  });

  it('carries the WebGPU path: Vulkan loader, EGL/GLES, graphics capability, NVIDIA manifests', () => {
    const final = stages(read('worker-cuda.Dockerfile')).at(-1)!;
    const apt = runs(final).find((r) => /apt-get install/.test(r)) ?? '';
    for (const pkg of ['libvulkan1', 'libegl1', 'libgles2', 'tini']) {
      assert.match(apt, new RegExp(`\\s${pkg}(\\s|$)`), `apt-get install ${pkg}`);
    }
    const env = envOf(final);
    assert.deepEqual(env.get('NVIDIA_DRIVER_CAPABILITIES')?.split(',').sort(), [
      'compute',
      'graphics',
      'utility',
    ]);
    assert.equal(env.get('MMIM_BACKEND'), 'tensorflow-gpu');
    const manifest = (target: string): { ICD?: Record<string, string> } => {
      const copy = copies(final).find((a) => a.at(-1) === target);
      assert.ok(copy && copy.length === 2, `one file copied to ${target}`);
      return JSON.parse(fs.readFileSync(path.join(REPO, copy[0]!), 'utf8')) as {
        ICD?: Record<string, string>;
      };
    };
    const icd = manifest('/etc/vulkan/icd.d/nvidia_icd.json');
    assert.equal(icd.ICD?.['library_path'], 'libGLX_nvidia.so.0');
    assert.match(icd.ICD?.['api_version'] ?? '', /^1\.3(\.\d+)?$/);
    const egl = manifest('/usr/share/glvnd/egl_vendor.d/10_nvidia.json');
    assert.equal(egl.ICD?.['library_path'], 'libEGL_nvidia.so.0');
  });

  it('keeps the CUDA JIT cache at a volume path the worker user owns, at the largest size', () => {
    const final = stages(read('worker-cuda.Dockerfile')).at(-1)!;
    const env = envOf(final);
    assert.equal(env.get('CUDA_CACHE_PATH'), '/var/cache/mmim/cuda');
    // The driver's maximum (4 GiB): libtensorflow's PTX compiled for sm_90 must all fit.
    assert.equal(env.get('CUDA_CACHE_MAXSIZE'), String(4 * 1024 ** 3));
    // Created and owned by uid 10001 in the image: a Docker named volume mounted there takes
    // the image's ownership, so the worker (USER 10001) can write it.
    assert.ok(
      runs(final).some((r) =>
        /mkdir -p \/var\/cache\/mmim\/cuda[\s\\]*&&\s*chown 10001:10001 \/var\/cache\/mmim\/cuda/.test(
          r,
        ),
      ),
      runs(final).join('\n'),
    );
  });

  it('keeps node_modules, VCS data, tests and secrets out of every build context', () => {
    for (const file of DOCKERFILES) {
      const { matchers, unsupported } = ignoreMatchers(read(`${file}.dockerignore`));
      assert.deepEqual(unsupported, []);
      const ignored = (p: string): boolean => matchers.some((m) => m.test(p));
      for (const p of [
        'node_modules/x',
        'libs/runtime/node_modules/y',
        '.git/HEAD',
        'libs/model/src/model.test.ts',
        'deploy/compose/secrets/join-token',
        'deploy/k8s/base/secrets/redis-url',
        'apps/dashboard/dist/app.js',
        'deploy/compose/.env',
      ]) {
        assert.ok(ignored(p), `${file}.dockerignore lets ${p} in`);
      }
      for (const p of ['apps/cli/bin/mmim.js', 'libs/model/src/model.ts', 'package-lock.json']) {
        assert.ok(!ignored(p), `${file}.dockerignore keeps ${p} out`);
      }
    }
  });
});
