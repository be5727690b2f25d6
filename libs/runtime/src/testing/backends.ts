/**
 * Test helpers to run the same computation on the `cpu` backend (the reference) and on `wasm`
 * (with our kernel fixes) and compare the results.
 *
 * TF.js has one global engine, so the two runs are sequential: switch to cpu, compute, copy the
 * results out with dataSync, switch to wasm, compute, compare. Inputs must therefore be plain
 * arrays (see `randomArray`), turned into tensors inside the computation.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { registerGradients } from '../gradients/register.js';
import { registerWasmKernelFixes } from '../kernels/register.js';

export type ComparedBackend = 'cpu' | 'wasm';

/** A computed tensor copied out of the engine. */
export interface Snapshot {
  shape: number[];
  dtype: tf.DataType;
  values: Float64Array;
}

/** Registers gradients and our wasm kernels; call once per test file before comparing. */
export function prepareBackends(): void {
  registerGradients();
  registerWasmKernelFixes();
}

export async function useBackend(name: ComparedBackend): Promise<void> {
  const ok = await tf.setBackend(name);
  assert.ok(ok, `backend ${name} failed to initialise`);
  assert.equal(tf.getBackend(), name);
}

/** Runs `fn` on `backend` inside tidy and copies every returned tensor out. */
export async function runOn(
  backend: ComparedBackend,
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<Snapshot[]> {
  await useBackend(backend);
  const before = tf.memory().numTensors;
  let snapshots: Snapshot[] = [];
  tf.tidy(() => {
    const out = fn();
    snapshots = (Array.isArray(out) ? out : [out]).map((t) => ({
      shape: [...t.shape],
      dtype: t.dtype,
      values: Float64Array.from(t.dataSync() as ArrayLike<number>),
    }));
  });
  // A kernel that leaks intermediate tensors would show up here.
  assert.equal(tf.memory().numTensors, before, `tensors leaked on ${backend}`);
  return snapshots;
}

export interface Tolerance {
  /** Relative tolerance (scaled by the reference value). Default 1e-4. */
  rtol?: number;
  /** Absolute tolerance. Default 1e-4. */
  atol?: number;
}

/** Asserts equal shapes and element-wise |a - e| <= atol + rtol * |e|. */
export function assertCloseSnapshots(
  actual: Snapshot[],
  expected: Snapshot[],
  label: string,
  { rtol = 1e-4, atol = 1e-4 }: Tolerance = {},
): void {
  assert.equal(actual.length, expected.length, `${label}: number of outputs`);
  expected.forEach((e, i) => {
    const a = actual[i]!;
    assert.deepEqual(a.shape, e.shape, `${label}: shape of output ${i}`);
    assert.equal(a.dtype, e.dtype, `${label}: dtype of output ${i}`);
    for (let j = 0; j < e.values.length; j++) {
      const want = e.values[j]!;
      const got = a.values[j]!;
      if (!(Math.abs(got - want) <= atol + rtol * Math.abs(want))) {
        assert.fail(`${label}: output ${i}[${j}] is ${got} on wasm, ${want} on cpu`);
      }
    }
  });
}

/** Computes `fn` on cpu and on wasm and asserts the results match. */
export async function assertSameOnBackends(
  label: string,
  fn: () => tf.Tensor | tf.Tensor[],
  tolerance?: Tolerance,
): Promise<void> {
  const expected = await runOn('cpu', fn);
  const actual = await runOn('wasm', fn);
  assertCloseSnapshots(actual, expected, label, tolerance);
}

/** Deterministic values in [-1, 1) (mulberry32), so both backends see the same inputs. */
export function randomArray(size: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** A float32 tensor of deterministic random values. */
export function randomTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(randomArray(tf.util.sizeFromShape(shape), seed), shape);
}
