/**
 * Every implementation of the model's kernels gives the same numbers: the JS kernels (cpu, the
 * float64 reference), the WGSL kernels (webgpu, on Mesa's llvmpipe here) and the tf-op composites
 * (what tfjs-node runs), forward and gradients, with ragged lengths and several hidden sizes.
 * Backends are switched inside one process; inputs and results cross as host arrays.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mmim/runtime';
import { lstmRecurrence } from '../layers/lstm.js';
import { spdLogdet } from '../layers/logdet.js';
import { dropoutRowKeys, dropoutScales, dropoutThreshold, SeededRandom } from '../rng.js';
import { DeviceAdam, type DeviceGrad } from '../optim/device-adam.js';
import { DROPOUT_MASK } from './dropout-mask.js';
import { setBackendProfileOverride, type BackendProfile } from './registry.js';

interface LstmCase {
  B: number;
  T: number;
  H: number;
  lengths: number[];
}

interface LstmResult {
  h: Float32Array;
  dxp: Float32Array;
  dwhh: Float32Array;
}

function randn(n: number, rng: SeededRandom, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

function lstmInputs(c: LstmCase, seed: number) {
  const rng = new SeededRandom(seed);
  return {
    xp: randn(c.B * c.T * 4 * c.H, rng, 0.8),
    whh: randn(4 * c.H * c.H, rng, 0.4),
    upstream: randn(c.B * c.H, rng, 1),
  };
}

/** h, d(sum(h * upstream))/dxp and /dwhh on the current backend and profile. */
async function runLstm(c: LstmCase, seed: number): Promise<LstmResult> {
  const { xp, whh, upstream } = lstmInputs(c, seed);
  const lengths = Int32Array.from(c.lengths);
  const x = tf.tensor3d(xp, [c.B, c.T, 4 * c.H]);
  const w = tf.tensor2d(whh, [4 * c.H, c.H]);
  const up = tf.tensor2d(upstream, [c.B, c.H]);
  const h = tf.tidy(() => lstmRecurrence(x, w, lengths));
  const [dxp, dwhh] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(lstmRecurrence(a as tf.Tensor3D, b as tf.Tensor2D, lengths), up)),
  )([x, w]) as [tf.Tensor, tf.Tensor];
  const out = {
    h: Float32Array.from(await h.data()),
    dxp: Float32Array.from(await dxp.data()),
    dwhh: Float32Array.from(await dwhh.data()),
  };
  tf.dispose([x, w, up, h, dxp, dwhh]);
  return out;
}

function relativeError(ours: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += ((ours[i] ?? NaN) - (ref[i] ?? 0)) ** 2;
    den += (ref[i] ?? 0) ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

const CASES: LstmCase[] = [
  { B: 3, T: 7, H: 4, lengths: [7, 2, 1] },
  { B: 5, T: 12, H: 16, lengths: [12, 0, 5, 30, 9] }, // 0 and past T are clamped to [1, T]
  { B: 2, T: 20, H: 32, lengths: [20, 11] },
];

/** SPD matrices M^T M / k + ridge, and ones that are not positive definite. */
function spdCases(): { name: string; n: number; a: Float32Array; pd: boolean }[] {
  const rng = new SeededRandom(17);
  const spd = (n: number, k: number, ridge: number): Float32Array => {
    const m = randn(n * k, rng, 1);
    const a = new Float32Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let r = 0; r < k; r++) s += (m[r * n + i] ?? 0) * (m[r * n + j] ?? 0);
        a[i * n + j] = s / k + (i === j ? ridge : 0);
      }
    return a;
  };
  return [
    { name: 'spd 4x4', n: 4, a: spd(4, 12, 0.05), pd: true },
    { name: 'spd 16x16', n: 16, a: spd(16, 40, 0.1), pd: true },
    { name: 'rank-deficient 6x6 (3 rows)', n: 6, a: spd(6, 3, 0), pd: false },
    { name: 'indefinite', n: 2, a: Float32Array.from([1, 0, 0, -1]), pd: false },
    { name: 'NaN', n: 3, a: Float32Array.from([NaN, 0, 0, 0, 1, 0, 0, 0, 1]), pd: false },
  ];
}

async function runLogdet(
  n: number,
  a: Float32Array,
): Promise<{ logdet: number; ok: number; grad: Float32Array }> {
  const x = tf.tensor2d(a, [n, n]);
  const okT = tf.tidy(() => spdLogdet(x).ok);
  const { value, grad } = tf.valueAndGrad((m: tf.Tensor) => spdLogdet(m as tf.Tensor2D).logdet)(x);
  const out = {
    logdet: (await value.data())[0] ?? NaN,
    ok: (await okT.data())[0] ?? NaN,
    grad: Float32Array.from(await grad.data()),
  };
  tf.dispose([x, okT, value, grad]);
  return out;
}

describe('model kernels: every backend and implementation agrees', () => {
  const reference = new Map<string, LstmResult>();
  const logdetReference = new Map<string, Awaited<ReturnType<typeof runLogdet>>>();

  before(async () => {
    await initBackend({ backend: 'cpu' });
    for (const [i, c] of CASES.entries()) reference.set(JSON.stringify(c), await runLstm(c, i));
    for (const s of spdCases()) logdetReference.set(s.name, await runLogdet(s.n, s.a));
  });
  after(() => setBackendProfileOverride(null));

  it('cpu (JS kernel): the SPD cases are factored, the others refused with zero outputs', () => {
    for (const s of spdCases()) {
      const r = logdetReference.get(s.name);
      assert.equal(r?.ok, s.pd ? 1 : 0, s.name);
      if (!s.pd) {
        assert.equal(r?.logdet, 0, s.name);
        assert.ok(
          r?.grad.every((g) => g === 0),
          `${s.name}: zero gradient`,
        );
      }
    }
  });

  const variants: { backend: 'webgpu' | 'wasm'; profile: Partial<BackendProfile> | null }[] = [
    { backend: 'webgpu', profile: null },
    { backend: 'webgpu', profile: { lstm: 'composite', logdet: 'composite' } },
    { backend: 'wasm', profile: null },
    { backend: 'wasm', profile: { lstm: 'composite', logdet: 'composite' } },
  ];
  for (const { backend, profile } of variants) {
    const label = `${backend}${profile === null ? ' kernels' : ' composites'}`;

    it(`${label}: LSTM forward 1e-5 and gradients 1e-4 of the JS kernel's`, async () => {
      await initBackend({ backend });
      setBackendProfileOverride(profile);
      for (const [i, c] of CASES.entries()) {
        const ref = reference.get(JSON.stringify(c));
        if (ref === undefined) throw new Error('no reference');
        const got = await runLstm(c, i);
        const tag = `${label} B${c.B} T${c.T} H${c.H}`;
        assert.ok(relativeError(got.h, ref.h) < 1e-5, `${tag} h: ${relativeError(got.h, ref.h)}`);
        assert.ok(relativeError(got.dxp, ref.dxp) < 1e-4, `${tag} dxp`);
        assert.ok(relativeError(got.dwhh, ref.dwhh) < 1e-4, `${tag} dwhh`);
        // Steps past a sample's length get exactly zero gradient.
        const steps = Math.min(c.T, Math.max(1, c.lengths[1] ?? 1));
        for (let t = steps; t < c.T; t++)
          for (let k = 0; k < 4 * c.H; k++)
            assert.ok(got.dxp[(1 * c.T + t) * 4 * c.H + k] === 0, `${tag} padding gradient`);
      }
      setBackendProfileOverride(null);
    });

    it(`${label}: SPD log det, its gradient and the positive-definiteness verdict`, async () => {
      await initBackend({ backend });
      setBackendProfileOverride(profile);
      for (const s of spdCases()) {
        const ref = logdetReference.get(s.name);
        if (ref === undefined) throw new Error('no reference');
        const got = await runLogdet(s.n, s.a);
        assert.equal(got.ok, ref.ok, `${label} ${s.name}: ok`);
        assert.ok(Number.isFinite(got.logdet), `${label} ${s.name}: finite log det`);
        assert.ok(got.grad.every(Number.isFinite), `${label} ${s.name}: finite gradient`);
        if (s.pd) {
          assert.ok(
            Math.abs(got.logdet - ref.logdet) <= 1e-5 * Math.max(1, Math.abs(ref.logdet)),
            `${label} ${s.name}: ${got.logdet} vs ${ref.logdet}`,
          );
          // Compared symmetrised: the composite differentiates the lower triangle Cholesky reads
          // (off-diagonals doubled, upper zero), the kernels return A^-T. Through a symmetric
          // input such as a covariance both give the same gradient (G + G^T is the same).
          const sym = (g: Float32Array): Float32Array =>
            g.map((_, k) => {
              const i = Math.floor(k / s.n);
              const j = k % s.n;
              return ((g[i * s.n + j] ?? 0) + (g[j * s.n + i] ?? 0)) / 2;
            });
          assert.ok(
            relativeError(sym(got.grad), sym(ref.grad)) < 1e-4,
            `${label} ${s.name}: gradient ${relativeError(sym(got.grad), sym(ref.grad))}`,
          );
        } else {
          assert.equal(got.logdet, 0, `${label} ${s.name}: log det of a refused matrix`);
        }
      }
      setBackendProfileOverride(null);
    });
  }

  it('webgpu: the dropout mask kernel draws exactly the JS masks (bit for bit)', async () => {
    await initBackend({ backend: 'webgpu' });
    for (const [rate, width, site, step] of [
      [0.1, 768, 'bert.layer.3.output', 0],
      [0.5, 37, 'fusion_prj.dropout', 12345],
      [0.9, 5, 'x', 7],
    ] as const) {
      const sampleIndex = [0, 1, 31, 4096, 1_000_003, 2 ** 31 - 1];
      const key = { seed: 1111, step, site };
      const expected = dropoutScales(key, rate, sampleIndex, width);
      const keys = dropoutRowKeys(key, sampleIndex);
      const { threshold, scale } = dropoutThreshold(rate);
      const rowKeys = tf.tensor1d(new Int32Array(keys.buffer), 'int32');
      const mask = tf.engine().runKernel(DROPOUT_MASK, { rowKeys }, { width, threshold, scale });
      const got = await (mask as tf.Tensor).data();
      tf.dispose([rowKeys, mask as tf.Tensor]);
      assert.equal(got.length, expected.length);
      let differ = 0;
      for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) differ++;
      assert.equal(differ, 0, `rate ${rate}, width ${width}: ${differ} elements differ`);
      // And the mask really drops about `rate` of the elements.
      const dropped = expected.filter((x) => x === 0).length / expected.length;
      assert.ok(Math.abs(dropped - rate) < 0.1, `dropped ${dropped} at rate ${rate}`);
    }
  });

  it('webgpu: the fused Adam kernel equals the tf-op update (gradients, zero gradients, masked steps)', async () => {
    await initBackend({ backend: 'webgpu' });
    const shapes: [string, number[]][] = [
      ['w', [7, 5]],
      ['b', [5]],
      ['z', [3, 4]], // a zero gradient (PyTorch's zeroed, not None): decay alone
    ];
    const run = async (adamUpdate: 'kernel' | 'composite') => {
      setBackendProfileOverride({ adamUpdate });
      const vars = new Map(
        shapes.map(([n, shape], i) => [
          n,
          tf.variable(
            tf.tensor(
              randn(
                shape.reduce((a, b) => a * b),
                new SeededRandom(i),
                1,
              ),
              shape,
            ),
          ),
        ]),
      );
      const opt = new DeviceAdam([
        { name: 'g', params: shapes.map(([n]) => n), lr: 0.01, weightDecay: 0.1 },
      ]);
      for (const [step, finite] of [
        [0, true],
        [1, false], // masked: nothing may change
        [2, true],
      ] as const) {
        const grads = new Map<string, DeviceGrad>(
          shapes.map(([n, shape]) => [
            n,
            n === 'z'
              ? 'zero'
              : tf.tensor(
                  randn(
                    shape.reduce((a, b) => a * b),
                    new SeededRandom(100 + step),
                    1,
                  ),
                  shape,
                ),
          ]),
        );
        const scale = tf.scalar(0.7);
        const ok = tf.scalar(finite, 'bool');
        opt.step((n) => vars.get(n) as tf.Variable, grads, scale, ok);
        if (!finite) opt.rollback(shapes.map(([n]) => n));
        tf.dispose([scale, ok, ...[...grads.values()].filter((g): g is tf.Tensor => g !== 'zero')]);
      }
      const out = {
        params: await Promise.all(
          [...vars.values()].map(async (v) => Float32Array.from(await v.data())),
        ),
        slots: await opt.readSlots(),
      };
      opt.dispose();
      tf.dispose([...vars.values()]);
      setBackendProfileOverride(null);
      return out;
    };
    const fused = await run('kernel');
    const ops = await run('composite');
    fused.params.forEach((p, i) => {
      const ref = ops.params[i] as Float32Array;
      assert.ok(relativeError(p, ref) < 1e-6, `param ${shapes[i]?.[0]}: ${relativeError(p, ref)}`);
    });
    for (const [name, slot] of ops.slots) {
      const f = fused.slots.get(name);
      assert.equal(f?.step, slot.step, `${name}: step count`);
      assert.equal(slot.step, 2, `${name}: the masked step is not counted`);
      assert.ok(relativeError(f?.m ?? new Float32Array(0), slot.m) < 1e-6, `${name}: exp_avg`);
      assert.ok(relativeError(f?.v ?? new Float32Array(0), slot.v) < 1e-6, `${name}: exp_avg_sq`);
    }
  });
});
