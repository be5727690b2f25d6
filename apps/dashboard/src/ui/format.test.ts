import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  adapterLimits,
  adapterName,
  curveOrder,
  fmtBytes,
  fmtParam,
  fmtSeconds,
  fmtValue,
  timeAgo,
} from './format.js';

describe('format', () => {
  it('says how long ago a heartbeat was', () => {
    const now = 1_000_000_000;
    assert.equal(timeAgo(now - 3_400, now), '3 s ago');
    assert.equal(timeAgo(now - 200, now), 'just now');
    assert.equal(timeAgo(now - 125_000, now), '2 min ago');
    assert.equal(timeAgo(now - 7_200_000, now), '2 h ago');
    assert.equal(timeAgo(now - 3 * 86_400_000, now), '3 d ago');
    assert.equal(timeAgo(now + 2_000, now), 'in 2 s');
    assert.equal(timeAgo(Number.NaN, now), '—');
  });

  it('formats metric values and params', () => {
    assert.equal(fmtValue(0.712345), '0.7123');
    assert.equal(fmtValue(1e-4), '1e-4');
    assert.equal(fmtValue(2.5e-5), '2.5e-5');
    assert.equal(fmtValue(0), '0');
    assert.equal(fmtValue(null), '—');
    assert.equal(fmtValue(Number.NaN), '—');
    assert.equal(fmtParam('adam'), 'adam');
    assert.equal(fmtParam(0.30000000000000004), '0.3');
    assert.equal(fmtParam({ a: [1, 2] }), '{"a":[1,2]}');
    assert.equal(fmtSeconds(12.34), '12.3 s');
    assert.equal(fmtSeconds(90), '1.5 min');
    assert.equal(fmtBytes(2_400_000), '2.3 MiB');
  });

  it('formats sizes in binary units up to TiB, whole ones without a decimal', () => {
    assert.equal(fmtBytes(0), '0 B');
    assert.equal(fmtBytes(1023), '1023 B');
    assert.equal(fmtBytes(16384), '16 KiB');
    assert.equal(fmtBytes(1536), '1.5 KiB');
    assert.equal(fmtBytes(2 ** 31), '2 GiB');
    assert.equal(fmtBytes(2 ** 32 - 4), '4 GiB');
    assert.equal(fmtBytes(3 * 2 ** 40), '3 TiB');
    assert.equal(fmtBytes(2 ** 60), '1048576 TiB');
    assert.equal(fmtBytes(Number.NaN), '—');
  });

  it('names a GPU adapter by its set parts and its limits in human units', () => {
    const limits = {
      maxBufferSize: 2 ** 31,
      maxStorageBufferBindingSize: 2 ** 27,
      maxComputeWorkgroupStorageSize: 16384,
      maxComputeInvocationsPerWorkgroup: 256,
    };
    const llvmpipe = { vendor: '', architecture: '', device: 'llvmpipe-llvm-15', limits };
    assert.equal(adapterName(llvmpipe), 'llvmpipe-llvm-15');
    assert.equal(
      adapterName({ ...llvmpipe, vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200' }),
      'nvidia · hopper · NVIDIA H200',
    );
    assert.equal(adapterName({ ...llvmpipe, device: ' ' }), 'unnamed adapter');
    assert.equal(
      adapterLimits(llvmpipe),
      'buffer 2 GiB · storage binding 128 MiB · workgroup memory 16 KiB · 256 invocations/workgroup',
    );
    assert.equal(adapterLimits({ ...llvmpipe, limits: null }), 'limits not reported');
  });

  it('orders curves: MMIM losses, other train curves, the rest, learning rates last', () => {
    const names = [
      'lr/main',
      'valid/x',
      'train/H',
      'train/zeta',
      'train/loss',
      'train/lld',
      'train/nce',
    ];
    assert.deepEqual(
      [...names].sort((a, b) => curveOrder(a).localeCompare(curveOrder(b))),
      ['train/loss', 'train/nce', 'train/lld', 'train/H', 'train/zeta', 'valid/x', 'lr/main'],
    );
  });
});
