/**
 * Every input the fuzzer once crashed a parser with (test/fuzz/crashes/) is now refused at once
 * with the parser's own error: the YAML size and nesting limits (libs/sweep/src/yaml-guard.ts,
 * libs/trainer's readConfigFile) run before the `yaml` package ever sees the text.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseSweepYaml, SweepConfigError } from '@mmim/sweep';
import { readConfigFile, TrainerConfigError } from '@mmim/trainer';

const CRASHES = 'test/fuzz/crashes';

function inputs(kind: string): string[] {
  const dir = path.join(CRASHES, kind);
  return fs.readdirSync(dir).map((f) => path.join(dir, f));
}

describe('fuzz regressions', () => {
  for (const file of inputs('sweep-yaml')) {
    it(`refuses ${path.basename(file)} as a sweep file within 1 s`, () => {
      const t0 = performance.now();
      assert.throws(() => parseSweepYaml(fs.readFileSync(file, 'utf8')), SweepConfigError);
      assert.ok(performance.now() - t0 < 1000);
    });
  }
  for (const file of inputs('trainer-config-yaml')) {
    it(`refuses ${path.basename(file)} as a trainer config twice within 1 s`, () => {
      // As YAML (the crash needed the second parse in one process).
      const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-')), 'config.yaml');
      fs.copyFileSync(file, copy);
      const t0 = performance.now();
      assert.throws(() => readConfigFile(copy), TrainerConfigError);
      assert.throws(() => readConfigFile(copy), TrainerConfigError);
      assert.ok(performance.now() - t0 < 1000);
    });
  }
});
