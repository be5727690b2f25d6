import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  assignOwners,
  gatherFromChunks,
  makeChunkPlan,
  ownedChunks,
  scatterToChunks,
} from './chunking.js';
import { TrialKeys } from './keys.js';
import { bufferToF32, f32ToBuffer } from './bytes.js';

const specs = [
  { name: 'a', size: 10 },
  { name: 'b', size: 23 },
  { name: 'c', size: 0 },
  { name: 'd', size: 5 },
  { name: 'e', size: 40 },
];

function values(): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  let k = 0;
  for (const s of specs)
    m.set(
      s.name,
      Float32Array.from({ length: s.size }, () => k++),
    );
  return m;
}

describe('chunk plan', () => {
  it('packs parameters end to end, every chunk full except the last', () => {
    const plan = makeChunkPlan(specs, 64); // 16 floats per chunk
    assert.equal(plan.totalElements, 78);
    assert.deepEqual(
      plan.chunks.map((c) => c.length),
      [16, 16, 16, 16, 14],
    );
    // 'b' spans chunks 0 and 1 and 2.
    const b = plan.chunks.flatMap((c) => c.pieces.filter((p) => p.name === 'b').map(() => c.index));
    assert.deepEqual(b, [0, 1, 2]);
    for (const c of plan.chunks) assert.ok(c.length * 4 <= plan.chunkBytes);
  });

  it('scatters and gathers back exactly', () => {
    const plan = makeChunkPlan(specs, 64);
    const v = values();
    const chunks = scatterToChunks(plan, v);
    assert.deepEqual(Array.from(chunks.flatMap((c) => Array.from(c))), [...Array(78).keys()]);
    const back = gatherFromChunks(plan, chunks);
    for (const [name, arr] of v) assert.deepEqual(back.get(name), arr);
  });

  it('rejects bad input', () => {
    assert.throws(() => makeChunkPlan(specs, 6), /multiple of 4/);
    assert.throws(() => makeChunkPlan([specs[0]!, specs[0]!]), /duplicate/);
    const plan = makeChunkPlan(specs, 64);
    const v = values();
    v.delete('d');
    assert.throws(() => scatterToChunks(plan, v), /missing parameter d/);
    v.set('d', new Float32Array(4));
    assert.throws(() => scatterToChunks(plan, v), /4 elements/);
  });

  it('assigns chunk c to rank c % worldSize, or balanced by bytes', () => {
    const plan = makeChunkPlan(specs, 64);
    assert.deepEqual(assignOwners(plan, 3), [0, 1, 2, 0, 1]);
    assert.deepEqual(ownedChunks(plan, 1, 3), [1, 4]);
    assert.deepEqual(ownedChunks(plan, 2, 6), [2]);
    assert.deepEqual(ownedChunks(plan, 5, 6), []);
    const balanced = assignOwners(plan, 2, 'balanced');
    const bytes = [0, 0];
    balanced.forEach((r, c) => (bytes[r]! += plan.chunks[c]!.length * 4));
    assert.ok(Math.abs(bytes[0]! - bytes[1]!) <= 64);
    assert.throws(() => ownedChunks(plan, 3, 3), /outside/);
  });
});

describe('keys and bytes', () => {
  it('co-locates a trial under one hash tag', () => {
    const k = new TrialKeys('T1');
    assert.equal(k.param(3), 'mmim:{trial:T1}:param:3');
    assert.equal(k.grad(7, 1, 2), 'mmim:{trial:T1}:grad:7:1:2');
    assert.equal(k.version(), 'mmim:{trial:T1}:version');
    assert.equal(new TrialKeys('x', 'p:').m(0), 'p:{trial:x}:m:0');
    assert.throws(() => new TrialKeys('a}b'), /invalid trial id/);
  });

  it('round-trips float32 through little-endian bytes, even from an unaligned buffer', () => {
    const a = Float32Array.from([1.5, -2, 3e-8, Number.NaN]);
    const b = f32ToBuffer(a);
    assert.equal(b.readFloatLE(4), -2);
    const unaligned = Buffer.concat([Buffer.alloc(1), b]).subarray(1);
    assert.deepEqual(bufferToF32(unaligned), a);
  });
});
