/**
 * Fuzz inputs as fast-check arbitraries: a valid seed from the corpus put through a few
 * structure-blind byte mutations (bit flips, truncation, inflated length fields, duplicated
 * ranges, splices with other seeds) or text mutations for the YAML/JSON/CSV targets (deep
 * nesting, huge numbers, alias bombs, duplicate keys), plus plain random bytes. Mutations carry
 * positions as naturals reduced modulo the input's length when applied, so fast-check can shrink
 * a failing input to its smallest mutation list.
 */
import fc from 'fast-check';

export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  /** Overwrites 1, 2, 4 or 8 bytes with a large little-endian count (a length field gone bad). */
  | { op: 'inflate'; at: number; width: 1 | 2 | 4 | 8; value: bigint }
  /** Repeats a range several times in place (duplicated opcodes, items, rows). */
  | { op: 'repeat'; at: number; length: number; times: number }
  | { op: 'splice'; at: number; seed: number; from: number; length: number }
  | { op: 'text'; at: number; snippet: string };

/** Values that break length checks: sign bits, all ones, just past common limits. */
const BIG_COUNTS = [
  0x7fn,
  0x80n,
  0xffn,
  0x7fffn,
  0xffffn,
  0x10000n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0x7fffffffffffffffn,
  0xffffffffffffffffn,
  100_000_001n,
  (1n << 53n) + 1n,
];

/**
 * Snippets a text parser must survive: nesting deep enough to overflow a recursive descent,
 * numbers past float and safe-integer range, YAML alias fan-out ("billion laughs"), tags,
 * duplicate keys, CSV quoting, control characters and lone surrogates.
 */
export const TEXT_SNIPPETS: readonly string[] = [
  '['.repeat(5000),
  '{"a":'.repeat(3000),
  '- '.repeat(2000) + 'x',
  'a:\n' + Array.from({ length: 400 }, (_, i) => ' '.repeat(i + 1) + 'b:').join('\n'),
  '1e309',
  '-1e309',
  '99999999999999999999999999999',
  '-0',
  '0x7fffffffffffffff',
  '.nan',
  '.inf',
  'NaN',
  'a: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n',
  '*undefined_alias',
  '!!python/object/apply:os.system ["echo pwned"]',
  '!!binary AAAA',
  '!!js/function "function(){}"',
  '__proto__: {polluted: true}\n',
  'constructor: {prototype: {polluted: true}}\n',
  'key: 1\nkey: 2\n',
  '? [a, b]\n: c\n',
  '<<: *undefined\n',
  '"\\u0000\\uD800"',
  '\u0000\u0001\u0002',
  '\uFEFF',
  '\r\n\r\n',
  '"a""b",,,"\n"',
  '"unterminated',
  ',,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,',
  '%YAML 1.1\n---\n',
  '--- !<tag:yaml.org,2002:js/undefined> ~\n',
  '\t\t\t',
  'x'.repeat(70_000),
];

const positions = fc.nat({ max: 1 << 20 });

function mutationArb(seedCount: number, text: boolean): fc.Arbitrary<Mutation> {
  const byteOps: fc.Arbitrary<Mutation>[] = [
    fc.record({
      op: fc.constant('flip' as const),
      at: positions,
      bit: fc.integer({ min: 0, max: 7 }),
    }),
    fc.record({
      op: fc.constant('set' as const),
      at: positions,
      value: fc.oneof(fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x2e, 0x28), fc.nat({ max: 255 })),
    }),
    fc.record({ op: fc.constant('truncate' as const), at: positions }),
    fc.record({
      op: fc.constant('insert' as const),
      at: positions,
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
    fc.record({
      op: fc.constant('delete' as const),
      at: positions,
      length: fc.integer({ min: 1, max: 64 }),
    }),
    fc.record({
      op: fc.constant('inflate' as const),
      at: positions,
      width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
      value: fc.oneof(
        fc.constantFrom(...BIG_COUNTS),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      ),
    }),
    fc.record({
      op: fc.constant('repeat' as const),
      at: positions,
      length: fc.integer({ min: 1, max: 32 }),
      times: fc.integer({ min: 2, max: 200 }),
    }),
    fc.record({
      op: fc.constant('splice' as const),
      at: positions,
      seed: fc.nat({ max: Math.max(0, seedCount - 1) }),
      from: positions,
      length: fc.integer({ min: 1, max: 256 }),
    }),
  ];
  if (!text) return fc.oneof(...byteOps);
  const textOp = fc.record({
    op: fc.constant('text' as const),
    at: positions,
    snippet: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...TEXT_SNIPPETS) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    ),
  });
  return fc.oneof({ weight: 2, arbitrary: fc.oneof(...byteOps) }, { weight: 2, arbitrary: textOp });
}

const encoder = new TextEncoder();

/** Applies `m` to `input`; positions are taken modulo the current length. */
export function applyMutation(
  input: Uint8Array,
  m: Mutation,
  seeds: readonly Uint8Array[],
): Uint8Array {
  const n = input.length;
  const at = n === 0 ? 0 : m.at % (n + 1);
  switch (m.op) {
    case 'flip': {
      if (n === 0) return input;
      const out = input.slice();
      const i = m.at % n;
      out[i] = (out[i] as number) ^ (1 << m.bit);
      return out;
    }
    case 'set': {
      if (n === 0) return input;
      const out = input.slice();
      out[m.at % n] = m.value;
      return out;
    }
    case 'truncate':
      return input.slice(0, at);
    case 'insert':
      return concat(input.subarray(0, at), m.bytes, input.subarray(at));
    case 'delete':
      return concat(input.subarray(0, at), input.subarray(Math.min(n, at + m.length)));
    case 'inflate': {
      if (n < m.width) return input;
      const out = input.slice();
      const i = m.at % (n - m.width + 1);
      for (let b = 0; b < m.width; b++) out[i + b] = Number((m.value >> BigInt(8 * b)) & 0xffn);
      return out;
    }
    case 'repeat': {
      const end = Math.min(n, at + m.length);
      const piece = input.subarray(at, end);
      const parts: Uint8Array[] = [input.subarray(0, end)];
      for (let t = 1; t < m.times; t++) parts.push(piece);
      parts.push(input.subarray(end));
      return concat(...parts);
    }
    case 'splice': {
      const other = seeds[m.seed % Math.max(1, seeds.length)];
      if (!other || other.length === 0) return input;
      const from = m.from % other.length;
      return concat(
        input.subarray(0, at),
        other.subarray(from, from + m.length),
        input.subarray(at),
      );
    }
    case 'text':
      return concat(input.subarray(0, at), encoder.encode(m.snippet), input.subarray(at));
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One fuzz input and how it was made (for reports and crash files). */
export interface FuzzInput {
  bytes: Uint8Array;
  /** The seed file's name, or 'random'. */
  origin: string;
  mutations: readonly Mutation[];
}

export interface InputOptions {
  /** Text targets also get text mutations. */
  text: boolean;
  /** Most mutations applied to one seed. */
  maxMutations?: number;
  /** Longest purely random input. */
  maxRandomBytes?: number;
}

/**
 * Mostly mutated seeds (so inputs get past the first checks into the parser's depth), some
 * seeds unchanged, some random bytes (random text for text targets).
 */
export function fuzzInputs(
  seeds: readonly { name: string; bytes: Uint8Array }[],
  options: InputOptions,
): fc.Arbitrary<FuzzInput> {
  if (seeds.length === 0) throw new Error('fuzzInputs: the corpus has no seeds');
  const seedBytes = seeds.map((s) => s.bytes);
  const mutated = fc
    .record({
      seed: fc.nat({ max: seeds.length - 1 }),
      mutations: fc.array(mutationArb(seeds.length, options.text), {
        minLength: 1,
        maxLength: options.maxMutations ?? 6,
      }),
    })
    .map(({ seed, mutations }): FuzzInput => {
      const s = seeds[seed] as { name: string; bytes: Uint8Array };
      let bytes = s.bytes;
      for (const m of mutations) bytes = applyMutation(bytes, m, seedBytes);
      return { bytes, origin: s.name, mutations };
    });
  const plain = fc.nat({ max: seeds.length - 1 }).map((i): FuzzInput => ({
    bytes: seedBytes[i] as Uint8Array,
    origin: seeds[i]?.name ?? '?',
    mutations: [],
  }));
  const maxLength = options.maxRandomBytes ?? 512;
  const random = (
    options.text
      ? fc.string({ unit: 'binary', maxLength }).map((s) => encoder.encode(s))
      : fc.uint8Array({ maxLength })
  ).map((bytes): FuzzInput => ({ bytes, origin: 'random', mutations: [] }));
  return fc.oneof(
    { weight: 8, arbitrary: mutated },
    { weight: 1, arbitrary: plain },
    { weight: 2, arbitrary: random },
  );
}
