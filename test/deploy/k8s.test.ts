/**
 * deploy/k8s: every overlay renders with kubectl's kustomize, every object validates against
 * the Kubernetes schemas (kubernetes-models 5.1.0, pinned), a wrong field fails validation,
 * and the objects hold together (references, selectors, probes, GPUs, Redis durability, the
 * exchange Redis without persistence and the workers' URL to it).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { describe as name, validateObjects, type K8sObject } from './k8s-schema.js';
import { REPO, findKubectl, normaliseSecretData, overlayNames, renderOverlay } from './render.js';

const NAMESPACE = 'mmim';

function find<T>(objects: readonly K8sObject[], kind: string, objName: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === objName);
  assert.ok(found, `no ${kind}/${objName} in the render`);
  return found as unknown as T;
}

function podTemplates(
  objects: readonly K8sObject[],
): { owner: string; template: IPodTemplateSpec }[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .map((o) => ({ owner: name(o), template: (o as unknown as IDeployment).spec!.template }));
}

function container(workload: IDeployment | IStatefulSet, containerName: string): IContainer {
  const c = workload.spec?.template.spec?.containers.find((x) => x.name === containerName);
  assert.ok(c, `no container ${containerName}`);
  return c;
}

function envValue(c: IContainer, envName: string): string | undefined {
  return c.env?.find((e) => e.name === envName)?.value;
}

/** Bytes of a Redis memory size (`8gb`, `512mb`: powers of 1024, as redis.conf reads them). */
function redisBytes(size: string): number {
  const m = /^(\d+)(kb|mb|gb)?$/i.exec(size);
  assert.ok(m, `a Redis memory size: '${size}'`);
  const unit = { kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[m[2]?.toLowerCase() ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

/** Bytes of a Kubernetes binary-suffixed quantity (`12Gi`, `512Mi`). */
function quantityBytes(q: string | number | undefined): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(String(q));
  assert.ok(m, `a binary quantity: '${String(q)}'`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

function decodedSecret(objects: readonly K8sObject[]): Record<string, string> {
  const secret = objects.find((o) => o.kind === 'Secret') as unknown as ISecret;
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [
      k,
      Buffer.from(v, 'base64').toString('utf8'),
    ]),
  );
}

const rendered = new Map<string, K8sObject[]>();
const secretsUsed = new Map<string, Record<string, string>>();

describe('deploy/k8s', () => {
  before(() => {
    const kubectl = findKubectl();
    for (const overlay of overlayNames()) {
      const r = renderOverlay(kubectl, overlay);
      rendered.set(overlay, r.objects.map(normaliseSecretData));
      secretsUsed.set(overlay, r.secrets);
    }
  });

  it('has the cpu and gpu overlays, each rendering the whole application', () => {
    assert.deepEqual([...rendered.keys()], ['cpu', 'gpu']);
    for (const [overlay, objects] of rendered) {
      const kinds = objects.map(
        (o) => `${o.kind}/${o.metadata?.name?.replace(/-[a-z0-9]{10}$/, '')}`,
      );
      for (const expected of [
        'Namespace/mmim',
        'ConfigMap/mmim-config',
        'ConfigMap/mmim-redis-config',
        'Secret/mmim-secrets',
        'Deployment/mmim-coordinator',
        'Service/mmim-coordinator',
        'Deployment/mmim-worker',
        'PodDisruptionBudget/mmim-worker',
        'PersistentVolumeClaim/mmim-data',
        'StatefulSet/mmim-redis',
        'Service/mmim-redis',
        'NetworkPolicy/mmim-redis',
        'ConfigMap/mmim-exchange-redis-config',
        'Deployment/mmim-exchange-redis',
        'Service/mmim-exchange-redis',
        'NetworkPolicy/mmim-exchange-redis',
      ]) {
        assert.ok(
          kinds.includes(expected),
          `${overlay}: ${expected} missing from ${kinds.join(', ')}`,
        );
      }
    }
  });

  it('validates every object of every overlay against the Kubernetes schemas', async () => {
    for (const [overlay, objects] of rendered) {
      assert.deepEqual(await validateObjects(objects), [], `overlays/${overlay}`);
    }
  });

  it('fails validation on a misspelled field, a wrong type or a missing required field', async () => {
    const objects = rendered.get('gpu')!;
    const mutate = (edit: (worker: IDeployment) => void): K8sObject[] => {
      const copy = structuredClone(objects);
      edit(find<IDeployment>(copy, 'Deployment', 'mmim-worker'));
      return copy;
    };
    const misspelled = await validateObjects(
      mutate((w) => {
        const c = w.spec!.template.spec!.containers[0] as unknown as Record<string, unknown>;
        c['resourcse'] = c['resources'];
        delete c['resources'];
      }),
    );
    assert.equal(misspelled.length, 1, misspelled.join('\n'));
    assert.match(
      misspelled[0]!,
      /Deployment\/mmim-worker: .*'"resourcse"' does not exist in type 'IContainer'/,
    );

    const nested = await validateObjects(
      mutate((w) => {
        const probe = w.spec!.template.spec!.containers[0]!.livenessProbe as Record<
          string,
          unknown
        >;
        probe['periodSecond'] = 30;
      }),
    );
    assert.ok(
      nested.some((e) => /'"periodSecond"' does not exist in type 'IProbe'/.test(e)),
      nested.join('\n'),
    );

    const wrongType = await validateObjects(
      mutate((w) => {
        (w.spec as unknown as Record<string, unknown>)['replicas'] = 'two';
      }),
    );
    assert.ok(
      wrongType.some((e) =>
        /Deployment\/mmim-worker: data\/spec\/replicas must be integer/.test(e),
      ),
    );

    const missing = await validateObjects(
      mutate((w) => {
        delete (w.spec!.template.spec!.containers[0] as Partial<IContainer>).name;
      }),
    );
    assert.ok(
      missing.some((e) => /containers\/0 must have required property name/.test(e)),
      missing.join('\n'),
    );
  });

  it('puts every namespaced object in the mmim namespace', () => {
    for (const [overlay, objects] of rendered) {
      for (const o of objects.filter((x) => x.kind !== 'Namespace')) {
        assert.equal(o.metadata?.namespace, NAMESPACE, `${overlay}: ${name(o)}`);
      }
    }
  });

  it('runs one coordinator at a time with native gRPC probes and both ports on its Service', () => {
    for (const [overlay, objects] of rendered) {
      const dep = find<IDeployment>(objects, 'Deployment', 'mmim-coordinator');
      assert.equal(dep.spec?.replicas, 1, overlay);
      assert.equal(
        dep.spec?.strategy?.type,
        'Recreate',
        `${overlay}: two coordinators must never overlap`,
      );
      const c = container(dep, 'coordinator');
      assert.deepEqual(c.args, ['coordinator']);
      assert.deepEqual(
        c.ports?.map((p) => [p.name, p.containerPort]),
        [
          ['grpc', 50051],
          ['http', 8080],
        ],
      );
      for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
        assert.equal(probe?.grpc?.port, 50051, `${overlay}: probes use the gRPC health service`);
      }
      assert.equal(c.readinessProbe?.grpc?.service, 'mmim.v1.WorkerRegistry');
      const svc = find<IService>(objects, 'Service', 'mmim-coordinator');
      assert.deepEqual(
        svc.spec?.ports?.map((p) => [p.port, p.targetPort]),
        [
          [50051, 'grpc'],
          [8080, 'http'],
        ],
      );
      const config = find<IConfigMap>(objects, 'ConfigMap', 'mmim-config');
      assert.equal(config.data?.['MMIM_COORDINATOR'], `${svc.metadata?.name}:50051`);
    }
  });

  it('sizes every container, runs every pod as non-root and tags every image', () => {
    for (const [overlay, objects] of rendered) {
      for (const { owner, template } of podTemplates(objects)) {
        const spec = template.spec!;
        assert.equal(spec.securityContext?.runAsNonRoot, true, `${overlay}: ${owner}`);
        assert.equal(spec.automountServiceAccountToken, false, `${overlay}: ${owner}`);
        for (const c of spec.containers) {
          const where = `${overlay}: ${owner} container ${c.name}`;
          assert.ok(c.resources?.requests?.['cpu'] !== undefined, `${where}: cpu request`);
          assert.ok(c.resources?.requests?.['memory'] !== undefined, `${where}: memory request`);
          assert.ok(c.resources?.limits?.['memory'] !== undefined, `${where}: memory limit`);
          assert.equal(c.securityContext?.allowPrivilegeEscalation, false, where);
          assert.match(
            c.image ?? '',
            /^[^:@]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/,
            `${where}: tagged image`,
          );
          assert.doesNotMatch(c.image ?? '', /:latest$/, where);
          assert.ok(c.livenessProbe, `${where}: liveness probe`);
        }
      }
    }
  });

  it('resolves every Secret and ConfigMap reference, keys included', () => {
    for (const [overlay, objects] of rendered) {
      const data = (kind: string, objName: string): Record<string, unknown> | undefined => {
        const o = objects.find((x) => x.kind === kind && x.metadata?.name === objName);
        return o ? ((o['data'] ?? {}) as Record<string, unknown>) : undefined;
      };
      for (const { owner, template } of podTemplates(objects)) {
        const spec = template.spec!;
        for (const v of spec.volumes ?? []) {
          if (v.secret) {
            const d = data('Secret', v.secret.secretName!);
            assert.ok(d, `${overlay}: ${owner} mounts missing Secret ${v.secret.secretName}`);
            for (const item of v.secret.items ?? [])
              assert.ok(item.key in d, `${owner}: key ${item.key}`);
          }
          if (v.configMap)
            assert.ok(data('ConfigMap', v.configMap.name!), `${owner}: ${v.configMap.name}`);
        }
        for (const c of spec.containers) {
          for (const e of c.env ?? []) {
            const ref = e.valueFrom?.secretKeyRef;
            if (!ref) continue;
            const d = data('Secret', ref.name!);
            assert.ok(
              d && ref.key in d,
              `${overlay}: ${owner} env ${e.name} -> ${ref.name}/${ref.key}`,
            );
          }
          for (const from of c.envFrom ?? []) {
            if (from.configMapRef) assert.ok(data('ConfigMap', from.configMapRef.name!), owner);
          }
        }
      }
    }
  });

  it('selects pods with every Service and the PodDisruptionBudget', () => {
    for (const [overlay, objects] of rendered) {
      const templates = podTemplates(objects);
      const matches = (selector: Record<string, string>): string[] =>
        templates
          .filter(({ template }) =>
            Object.entries(selector).every(([k, v]) => template.metadata?.labels?.[k] === v),
          )
          .map((t) => t.owner);
      for (const svc of objects.filter((o) => o.kind === 'Service') as unknown as IService[]) {
        assert.equal(
          matches(svc.spec!.selector!).length,
          1,
          `${overlay}: Service/${svc.metadata?.name}`,
        );
      }
      const pdb = find<IPodDisruptionBudget>(objects, 'PodDisruptionBudget', 'mmim-worker');
      assert.deepEqual(matches(pdb.spec!.selector!.matchLabels!), ['Deployment/mmim-worker']);
      assert.equal(pdb.spec?.maxUnavailable, 1);
      for (const { owner, template } of templates) {
        const workload = objects.find((o) => name(o) === owner) as unknown as IDeployment;
        const sel = workload.spec!.selector.matchLabels!;
        assert.ok(
          Object.entries(sel).every(([k, v]) => template.metadata?.labels?.[k] === v),
          `${overlay}: ${owner} selector matches its own pods`,
        );
      }
    }
  });

  it('gives GPU workers one GPU each on GPU nodes, and CPU workers none', () => {
    const gpu = find<IDeployment>(rendered.get('gpu')!, 'Deployment', 'mmim-worker');
    const gc = container(gpu, 'worker');
    assert.equal(gc.resources?.limits?.['nvidia.com/gpu'], 1);
    assert.equal(gc.resources?.requests?.['nvidia.com/gpu'], 1);
    assert.equal(gc.image, 'mmim-worker-cuda:0.1.0');
    assert.equal(envValue(gc, 'MMIM_BACKEND'), 'tensorflow-gpu');
    const pod = gpu.spec!.template.spec!;
    assert.ok(Object.keys(pod.nodeSelector ?? {}).length > 0, 'GPU node selector');
    assert.ok(
      pod.tolerations?.some((t) => t.key === 'nvidia.com/gpu' && t.effect === 'NoSchedule'),
      'tolerates the GPU taint',
    );
    assert.equal(gpu.spec?.strategy?.rollingUpdate?.maxSurge, 0, 'no surge pod waiting for a GPU');

    const cpu = find<IDeployment>(rendered.get('cpu')!, 'Deployment', 'mmim-worker');
    const cc = container(cpu, 'worker');
    assert.equal(cc.resources?.limits?.['nvidia.com/gpu'], undefined);
    assert.equal(cc.image, 'mmim-worker-cpu:0.1.0');
    assert.equal(envValue(cc, 'MMIM_BACKEND'), 'wasm');
    assert.equal(cpu.spec!.template.spec!.nodeSelector, undefined);
  });

  it('lets GPU workers reach Vulkan/EGL and keeps their CUDA JIT cache on its own volume', () => {
    const gpu = find<IDeployment>(rendered.get('gpu')!, 'Deployment', 'mmim-worker');
    const gc = container(gpu, 'worker');
    assert.deepEqual(envValue(gc, 'NVIDIA_DRIVER_CAPABILITIES')?.split(',').sort(), [
      'compute',
      'graphics',
      'utility',
    ]);
    const cachePath = envValue(gc, 'CUDA_CACHE_PATH');
    assert.equal(cachePath, '/var/cache/mmim/cuda');
    assert.equal(envValue(gc, 'CUDA_CACHE_MAXSIZE'), String(4 * 1024 ** 3));
    // The root filesystem is read-only: the cache needs a writable volume of its own (not
    // /tmp, whose size budget is the trials'), mounted read-write exactly there.
    assert.equal(gc.securityContext?.readOnlyRootFilesystem, true);
    const mount = gc.volumeMounts?.find((m) => m.mountPath === cachePath);
    assert.ok(mount && mount.readOnly !== true, `a writable volume on ${cachePath}`);
    const volume = gpu.spec!.template.spec!.volumes?.find((v) => v.name === mount.name);
    assert.ok(volume, `volume ${mount.name}`);
    assert.ok(volume.emptyDir ?? volume.persistentVolumeClaim ?? volume.hostPath, mount.name);
    // Room for the driver's largest cache (4 GiB), and the pod asks for that storage too.
    if (volume.emptyDir) assert.match(String(volume.emptyDir.sizeLimit), /^([5-9]|\d{2,})Gi$/);
    assert.equal(gc.resources?.requests?.['ephemeral-storage'], '25Gi');
    // The base's mounts are still there after the overlay's patch.
    for (const path of ['/tmp', '/app/data', '/run/secrets']) {
      assert.ok(
        gc.volumeMounts?.some((m) => m.mountPath === path),
        `${path} still mounted`,
      );
    }

    const cc = container(
      find<IDeployment>(rendered.get('cpu')!, 'Deployment', 'mmim-worker'),
      'worker',
    );
    assert.equal(envValue(cc, 'CUDA_CACHE_PATH'), undefined);
    assert.equal(
      cc.volumeMounts?.some((m) => m.mountPath === '/var/cache/mmim/cuda'),
      false,
    );
  });

  it('mounts the shared datasets read-only where sweeps look for them', () => {
    for (const [overlay, objects] of rendered) {
      const worker = find<IDeployment>(objects, 'Deployment', 'mmim-worker');
      const mount = container(worker, 'worker').volumeMounts?.find(
        (m) => m.mountPath === '/app/data',
      );
      assert.equal(mount?.readOnly, true, overlay);
      const volume = worker.spec?.template.spec?.volumes?.find((v) => v.name === mount?.name);
      assert.equal(volume?.persistentVolumeClaim?.claimName, 'mmim-data');
      const claim = find<IPersistentVolumeClaim>(objects, 'PersistentVolumeClaim', 'mmim-data');
      assert.ok(
        claim.spec?.accessModes?.some((m) => m === 'ReadOnlyMany' || m === 'ReadWriteMany'),
      );
    }
  });

  it('keeps Redis durable: AOF config mounted, a PVC for /data, the password from the Secret', () => {
    for (const [overlay, objects] of rendered) {
      const sts = find<IStatefulSet>(objects, 'StatefulSet', 'mmim-redis');
      const c = container(sts, 'redis');
      assert.match(c.image ?? '', /^redis:7\./, `${overlay}: Redis 7`);
      const claim = sts.spec?.volumeClaimTemplates?.[0];
      assert.ok(claim?.spec?.resources?.requests?.['storage'], 'PVC size');
      assert.equal(
        c.volumeMounts?.find((m) => m.name === claim.metadata?.name)?.mountPath,
        '/data',
      );
      const configVolume = sts.spec?.template.spec?.volumes?.find((v) => v.configMap);
      const mount = c.volumeMounts?.find((m) => m.name === configVolume?.name);
      assert.equal(
        c.command?.[1],
        `${mount?.mountPath}/redis.conf`,
        'redis-server reads the mounted config',
      );
      const conf = find<IConfigMap>(objects, 'ConfigMap', configVolume!.configMap!.name!).data![
        'redis.conf'
      ]!;
      assert.match(conf, /^appendonly yes$/m);
      assert.match(conf, /^maxmemory-policy noeviction$/m);
      assert.deepEqual(c.command?.slice(2), [
        '--dir',
        '/data',
        '--requirepass',
        '$(REDIS_PASSWORD)',
      ]);
      assert.equal(
        c.env?.find((e) => e.name === 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef?.key,
        'redis-password',
      );
      assert.ok(c.livenessProbe?.tcpSocket, 'liveness must not fail while a large AOF loads');
    }
  });

  it('runs the exchange Redis without persistence: no volume claim, no AOF or RDB, maxmemory', () => {
    for (const [overlay, objects] of rendered) {
      assert.equal(
        objects.some((o) => o.kind === 'StatefulSet' && o.metadata?.name === 'mmim-exchange-redis'),
        false,
        overlay,
      );
      const dep = find<IDeployment>(objects, 'Deployment', 'mmim-exchange-redis');
      assert.equal(dep.spec?.replicas, 1, `${overlay}: one server for all ranks`);
      assert.equal(dep.spec?.strategy?.type, 'Recreate', `${overlay}: two must never overlap`);
      const pod = dep.spec!.template.spec!;
      const c = container(dep, 'redis');
      assert.equal(
        c.image,
        container(find<IStatefulSet>(objects, 'StatefulSet', 'mmim-redis'), 'redis').image,
      );
      // Every volume is scratch or config: nothing outlives the pod.
      for (const v of pod.volumes ?? []) {
        assert.ok(
          v.emptyDir ?? v.configMap,
          `${overlay}: volume ${v.name} is an emptyDir or config`,
        );
      }
      const dataMount = c.volumeMounts?.find((m) => m.mountPath === '/data');
      assert.ok(pod.volumes?.find((v) => v.name === dataMount?.name)?.emptyDir, '/data: emptyDir');
      const configVolume = pod.volumes?.find((v) => v.configMap);
      const configMount = c.volumeMounts?.find((m) => m.name === configVolume?.name);
      assert.deepEqual(c.command?.slice(0, 2), [
        'redis-server',
        `${configMount?.mountPath}/redis.conf`,
      ]);
      const conf = find<IConfigMap>(objects, 'ConfigMap', configVolume!.configMap!.name!).data![
        'redis.conf'
      ]!;
      assert.match(conf, /^appendonly no$/m, overlay);
      assert.match(conf, /^save ""$/m, overlay);
      assert.match(conf, /^maxmemory-policy noeviction$/m, overlay);
      const args = c.command!.slice(2);
      assert.equal(
        args.some((a) => a === '--appendonly' || a === '--save'),
        false,
        'no flag turns persistence back on',
      );
      const flag = (f: string): string | undefined => args[args.indexOf(f) + 1];
      assert.equal(flag('--dir'), '/data');
      assert.equal(flag('--requirepass'), '$(REDIS_PASSWORD)');
      assert.equal(
        c.env?.find((e) => e.name === 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef?.key,
        'exchange-redis-password',
        'its own password',
      );
      // maxmemory set, below the container's memory limit (no fork: no copy-on-write headroom
      // needed, but room for fragmentation and client buffers).
      const maxmemory = redisBytes(flag('--maxmemory') ?? '');
      const limit = quantityBytes(c.resources?.limits?.['memory']);
      assert.ok(maxmemory >= 1024 ** 3, `${overlay}: maxmemory ${maxmemory}`);
      assert.ok(maxmemory <= 0.8 * limit, `${overlay}: maxmemory ${maxmemory} vs limit ${limit}`);
      assert.ok(c.readinessProbe?.exec?.command?.join(' ').includes('redis-cli ping'));
    }
  });

  it('gives every worker the exchange Redis URL as a file from the mounted Secret', () => {
    for (const [overlay, objects] of rendered) {
      const worker = find<IDeployment>(objects, 'Deployment', 'mmim-worker');
      const c = container(worker, 'worker');
      const file = envValue(c, 'MMIM_EXCHANGE_REDIS_URL_FILE');
      assert.ok(file, `${overlay}: MMIM_EXCHANGE_REDIS_URL_FILE`);
      // The file is a key of the Secret, mounted where the variable says.
      const volume = worker.spec!.template.spec!.volumes?.find((v) =>
        v.secret?.items?.some((i) => i.key === 'exchange-redis-url'),
      );
      assert.ok(volume, `${overlay}: a volume with the exchange-redis-url key`);
      const mount = c.volumeMounts?.find((m) => m.name === volume.name);
      const item = volume.secret!.items!.find((i) => i.key === 'exchange-redis-url')!;
      assert.equal(file, `${mount?.mountPath}/${item.path}`, overlay);
      assert.equal(
        c.env?.some((e) => e.name === 'MMIM_EXCHANGE_REDIS_URL'),
        false,
        'the entry point sets it from the file',
      );
      // The URL names the exchange Redis's Service and port and carries its password.
      const decoded = decodedSecret(objects);
      const url = new URL(decoded['exchange-redis-url'] ?? '');
      const svc = find<IService>(objects, 'Service', 'mmim-exchange-redis');
      assert.equal(url.hostname, svc.metadata?.name, overlay);
      assert.equal(Number(url.port), svc.spec?.ports?.[0]?.port);
      assert.equal(decodeURIComponent(url.password), decoded['exchange-redis-password']);
      assert.notEqual(decoded['exchange-redis-password'], decoded['redis-password']);
    }
  });

  it('renders the secrets written by make-secrets.sh, and git ignores the secret files', () => {
    for (const [overlay, objects] of rendered) {
      const decoded = decodedSecret(objects);
      assert.deepEqual(decoded, secretsUsed.get(overlay), overlay);
      assert.match(decoded['join-token'] ?? '', /^[0-9a-f]{64}$/);
      assert.equal(
        decoded['redis-url'],
        `redis://:${decoded['redis-password']}@mmim-redis:6379/0`,
        'the URL carries the password Redis is started with',
      );
    }
    for (const file of [
      'join-token',
      'admin-token',
      'redis-password',
      'redis-url',
      'exchange-redis-password',
      'exchange-redis-url',
    ]) {
      const ignored = execFileSync('git', ['check-ignore', `deploy/k8s/base/secrets/${file}`], {
        cwd: REPO,
        encoding: 'utf8',
      });
      assert.equal(ignored.trim(), `deploy/k8s/base/secrets/${file}`);
    }
  });
});
