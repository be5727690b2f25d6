/**
 * deploy/compose: the compose file validates against the Compose Specification's JSON schema
 * (the copy dclint 3.1.0 ships, pinned; ajv, draft-07), a wrong key fails it, and the
 * services hold together (Redis durable, the exchange Redis without persistence, one GPU per
 * worker, secrets git-ignored).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';

const REPO = path.resolve(import.meta.dirname, '..', '..');
const COMPOSE_DIR = path.join(REPO, 'deploy', 'compose');
const COMPOSE_FILE = path.join(COMPOSE_DIR, 'docker-compose.yml');
const MAKE_SECRETS = path.join(REPO, 'deploy', 'make-secrets.sh');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  secrets?: string[];
  volumes?: string[];
  ports?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  configs?: { source: string; target: string }[];
  command?: string[];
  tmpfs?: string[];
  healthcheck?: { test: string[] };
  deploy?: {
    resources?: {
      reservations?: {
        devices?: { driver?: string; device_ids?: string[]; capabilities?: string[] }[];
      };
    };
  };
}
interface Compose {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
  configs: Record<string, { file: string }>;
  volumes: Record<string, unknown>;
}

function load(text = fs.readFileSync(COMPOSE_FILE, 'utf8')): Compose {
  // Compose resolves YAML merge keys (<<: *anchor); so does this parse.
  return parse(text, { merge: true }) as Compose;
}

/** The Compose Specification's JSON schema (draft-07) as shipped by dclint (pinned). */
function composeSchema(): Record<string, unknown> {
  const require = createRequire(import.meta.url);
  // dclint's exports map does not list schemas/, so locate it from its package.json.
  const dir = path.dirname(require.resolve('dclint/package.json'));
  return JSON.parse(
    fs.readFileSync(path.join(dir, 'schemas', 'compose.schema.json'), 'utf8'),
  ) as Record<string, unknown>;
}

function validator(): (data: unknown) => string[] {
  const { $schema, ...schema } = composeSchema();
  // ajv's default draft is 07, registered as http://...#; the schema spells it https://.
  assert.match(String($schema), /draft-07\/schema$/);
  // Not strict: the schema carries annotations ajv does not know (e.g. "deprecated").
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  return (data) =>
    validate(data)
      ? []
      : (validate.errors ?? []).map(
          (e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
        );
}

describe('deploy/compose', () => {
  const validate = validator();

  it('validates against the Compose Specification schema', () => {
    assert.deepEqual(validate(load()), []);
  });

  it('fails the schema on a misspelled key, at the top of a service and deep inside one', () => {
    const top = load();
    (top.services['redis'] as Record<string, unknown>)['volumez'] = ['x:/data'];
    assert.ok(
      validate(top).some((e) => /^\/services\/redis must NOT have additional properties/.test(e)),
    );
    const deep = load();
    const reservation = deep.services['worker-gpu0']!.deploy!.resources!.reservations as Record<
      string,
      unknown
    >;
    reservation['device'] = reservation['devices'];
    delete reservation['devices'];
    assert.ok(
      validate(deep).some((e) =>
        /^\/services\/worker-gpu0\/deploy\/resources\/reservations must NOT have additional/.test(
          e,
        ),
      ),
      validate(deep).join('\n'),
    );
  });

  it('runs Redis 7 with the shared AOF config, a named volume on /data and a health check', () => {
    const c = load();
    const redis = c.services['redis']!;
    assert.match(redis.image ?? '', /^redis:7\./);
    const conf = redis.configs?.find((x) => x.target === '/usr/local/etc/redis/redis.conf');
    assert.ok(conf, 'redis.conf mounted');
    const confFile = path.resolve(COMPOSE_DIR, c.configs[conf.source]!.file);
    assert.equal(
      confFile,
      path.join(REPO, 'deploy', 'k8s', 'base', 'redis.conf'),
      'one redis.conf for both',
    );
    assert.match(fs.readFileSync(confFile, 'utf8'), /^appendonly yes$/m);
    assert.match(
      redis.command?.join(' ') ?? '',
      /redis-server \/usr\/local\/etc\/redis\/redis.conf --dir \/data --requirepass/,
    );
    const volume = redis.volumes?.find((v) => v.endsWith(':/data'));
    assert.ok(volume && volume.split(':')[0]! in c.volumes, 'named volume for /data');
    assert.ok((redis as Record<string, unknown>)['healthcheck']);
  });

  it('runs the exchange Redis without persistence, with maxmemory, noeviction and its own password', () => {
    const c = load();
    const ex = c.services['exchange-redis'];
    assert.ok(ex, 'an exchange-redis service');
    assert.equal(ex.image, c.services['redis']!.image, 'the same Redis image as the durable one');
    const conf = ex.configs?.find((x) => x.target === '/usr/local/etc/redis/redis.conf');
    assert.ok(conf, 'a config mounted where redis-server reads it');
    const confFile = path.resolve(COMPOSE_DIR, c.configs[conf.source]!.file);
    assert.equal(confFile, path.join(REPO, 'deploy', 'k8s', 'base', 'exchange-redis.conf'));
    const text = fs.readFileSync(confFile, 'utf8');
    assert.match(text, /^appendonly no$/m);
    assert.match(text, /^save ""$/m);
    assert.match(text, /^maxmemory-policy noeviction$/m);
    assert.doesNotMatch(text, /^(appendonly yes|save \d)/m);
    const command = ex.command?.join(' ') ?? '';
    assert.match(command, /^exec redis-server \/usr\/local\/etc\/redis\/redis.conf /);
    assert.match(command, / --maxmemory "\$\{MMIM_EXCHANGE_REDIS_MAXMEMORY:-\d+gb\}" /);
    // No command-line flag turns persistence back on.
    assert.doesNotMatch(command, /--appendonly|--save/);
    // Its own password, read from its own secret at start; never the durable Redis's.
    assert.match(command, /--requirepass "\$\$\(cat \/run\/secrets\/exchange-redis-password\)"/);
    assert.deepEqual(ex.secrets, ['exchange-redis-password']);
    assert.match(ex.healthcheck?.test.join(' ') ?? '', /exchange-redis-password.*redis-cli ping/);
    // Nothing on a volume: /data (the image's VOLUME) is a tmpfs.
    assert.equal(ex.volumes, undefined);
    assert.deepEqual(ex.tmpfs, ['/data']);
  });

  it("writes, with the header's make-secrets.sh command, URLs that name these services", () => {
    const header = fs
      .readFileSync(COMPOSE_FILE, 'utf8')
      .match(/^#\s+deploy\/make-secrets\.sh (.*)$/m);
    assert.ok(header, 'the header says how to write the secrets');
    const args = header[1]!.trim().split(/\s+/);
    assert.equal(args[0], 'deploy/compose/secrets');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmim-compose-secrets-'));
    try {
      execFileSync('sh', [MAKE_SECRETS, dir, ...args.slice(1)], { stdio: 'pipe' });
      const c = load();
      for (const name of Object.keys(c.secrets)) {
        assert.ok(fs.existsSync(path.join(dir, name)), `make-secrets.sh writes ${name}`);
      }
      const read = (f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');
      const url = new URL(read('exchange-redis-url'));
      assert.equal(url.hostname, 'exchange-redis');
      assert.ok(url.hostname in c.services, 'the URL names the compose service');
      assert.equal(url.port, '6379');
      assert.equal(decodeURIComponent(url.password), read('exchange-redis-password'));
      assert.notEqual(read('exchange-redis-password'), read('redis-password'));
      assert.ok(new URL(read('redis-url')).hostname in c.services);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts the coordinator after a healthy Redis, workers after a healthy coordinator', () => {
    const c = load();
    assert.equal(c.services['coordinator']!.depends_on?.['redis']?.condition, 'service_healthy');
    for (const [name, s] of Object.entries(c.services).filter(([n]) => n.startsWith('worker-'))) {
      assert.equal(s.depends_on?.['coordinator']?.condition, 'service_healthy', name);
      assert.equal(s.depends_on?.['exchange-redis']?.condition, 'service_healthy', name);
      assert.equal(s.environment?.['MMIM_COORDINATOR'], 'coordinator:50051', name);
      assert.deepEqual(s.secrets, ['join-token', 'redis-url', 'exchange-redis-url'], name);
      // Compose mounts a service's secrets at /run/secrets/<name>; the entry point reads them.
      assert.equal(s.environment?.['MMIM_REDIS_URL_FILE'], '/run/secrets/redis-url', name);
      assert.equal(
        s.environment?.['MMIM_EXCHANGE_REDIS_URL_FILE'],
        '/run/secrets/exchange-redis-url',
        name,
      );
      assert.equal(
        s.volumes?.[0],
        '${MMIM_DATA_DIR:-../../data}:/app/data:ro',
        `${name}: datasets`,
      );
    }
    for (const port of c.services['coordinator']!.ports ?? []) {
      assert.match(
        port,
        /^\$\{MMIM_\w+_PUBLISH:-127\.0\.0\.1:\d+\}:\d+$/,
        'loopback unless told otherwise',
      );
    }
  });

  it('gives each GPU worker its own GPU, seen as device 0', () => {
    const c = load();
    const gpuWorkers = Object.entries(c.services).filter(([n]) => /^worker-gpu\d+$/.test(n));
    assert.ok(gpuWorkers.length >= 2);
    const ids = gpuWorkers.map(([name, s]) => {
      const devices = s.deploy?.resources?.reservations?.devices ?? [];
      assert.equal(devices.length, 1, name);
      assert.equal(devices[0]!.driver, 'nvidia', name);
      // Docker turns the driver capabilities listed here into NVIDIA_DRIVER_CAPABILITIES;
      // graphics mounts the Vulkan/EGL libraries of the webgpu backend.
      assert.deepEqual([...(devices[0]!.capabilities ?? [])].sort(), [
        'compute',
        'gpu',
        'graphics',
        'utility',
      ]);
      // The CUDA JIT cache on a named volume at the image's CUDA_CACHE_PATH; the rest of the
      // mounts are the datasets only.
      assert.deepEqual(
        s.volumes,
        ['${MMIM_DATA_DIR:-../../data}:/app/data:ro', 'cuda-cache:/var/cache/mmim/cuda'],
        name,
      );
      assert.ok('cuda-cache' in c.volumes, 'cuda-cache is a named volume');
      assert.equal(devices[0]!.device_ids?.length, 1, name);
      assert.equal(s.environment?.['CUDA_VISIBLE_DEVICES'], '0', name);
      assert.equal(
        devices[0]!.device_ids![0],
        name.replace('worker-gpu', ''),
        `${name} reserves its own GPU`,
      );
      assert.match(s.build?.dockerfile ?? '', /worker-cuda\.Dockerfile$/);
      return devices[0]!.device_ids![0];
    });
    assert.equal(new Set(ids).size, ids.length, 'no GPU shared');
    assert.deepEqual(c.services['worker-cpu']!.profiles, ['cpu']);
    assert.deepEqual(c.services['worker-cpu']!.volumes, [
      '${MMIM_DATA_DIR:-../../data}:/app/data:ro',
    ]);
    // The path the volume is mounted at is the one the image's driver writes its cache to.
    const dockerfile = fs.readFileSync(
      path.join(REPO, 'deploy', 'docker', 'worker-cuda.Dockerfile'),
      'utf8',
    );
    assert.match(dockerfile, /^\s*CUDA_CACHE_PATH=\/var\/cache\/mmim\/cuda\b/m);
  });

  it('builds from Dockerfiles that exist, and takes secrets from git-ignored files', () => {
    const c = load();
    for (const [name, s] of Object.entries(c.services)) {
      if (!s.build) continue;
      const context = path.resolve(COMPOSE_DIR, s.build.context);
      assert.equal(context, REPO, `${name}: the build context is the repository root`);
      assert.ok(
        fs.existsSync(path.join(context, s.build.dockerfile)),
        `${name}: ${s.build.dockerfile}`,
      );
    }
    for (const [name, secret] of Object.entries(c.secrets)) {
      const rel = path.relative(REPO, path.resolve(COMPOSE_DIR, secret.file));
      assert.equal(rel, `deploy/compose/secrets/${name}`);
      const out = execFileSync('git', ['check-ignore', rel], { cwd: REPO, encoding: 'utf8' });
      assert.equal(out.trim(), rel, `${rel} is git-ignored`);
    }
  });
});
