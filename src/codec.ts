/**
 * The one JSON codec for messages that leave the process (a child process, a
 * queue). Plain JSON loses what results are made of: NaN and ±Inf become null, −0
 * becomes 0, and typed arrays become objects of indices. Here a non-finite or
 * negative-zero number is written as `{"$num": "NaN" | "Infinity" | "-Infinity" |
 * "-0"}`, and a typed array as `{"$typed": "<Float64Array…>", "base64": …}` (its bytes,
 * little-endian, so every bit pattern survives). Decoding gives back the same values.
 */

const TYPED = {
  Float64Array,
  Float32Array,
  Int32Array,
  Uint32Array,
  Int16Array,
  Uint16Array,
  Int8Array,
  Uint8Array,
} as const;
type TypedName = keyof typeof TYPED;
type Typed = InstanceType<(typeof TYPED)[TypedName]>;

const NUMBER_NAMES = ['NaN', 'Infinity', '-Infinity', '-0'] as const;

function encodeNumber(v: number): unknown {
  if (Number.isFinite(v)) return Object.is(v, -0) ? { $num: '-0' } : v;
  return { $num: String(v) };
}

function replacer(this: unknown, key: string, value: unknown): unknown {
  // JSON.stringify has already called toJSON, but typed arrays have none: they arrive whole.
  if (typeof value === 'number') return encodeNumber(value);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const name = value.constructor.name as TypedName;
    if (!(name in TYPED)) throw new TypeError(`codec: cannot encode a ${name}`);
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { $typed: name, base64: bytes.toString('base64') };
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const o = value as Record<string, unknown>;
  if (typeof o.$num === 'string' && Object.keys(o).length === 1) {
    if (!(NUMBER_NAMES as readonly string[]).includes(o.$num)) throw new TypeError(`codec: bad number ${o.$num}`);
    return o.$num === '-0' ? -0 : Number(o.$num);
  }
  if (typeof o.$typed === 'string' && typeof o.base64 === 'string' && Object.keys(o).length === 2) {
    const Type = TYPED[o.$typed as TypedName];
    if (!Type) throw new TypeError(`codec: unknown typed array ${o.$typed}`);
    const bytes = Buffer.from(o.base64, 'base64');
    // Copy into a fresh, aligned buffer: Buffer's own may be a pooled slice.
    const copy = new Uint8Array(bytes.length);
    copy.set(bytes);
    return new Type(copy.buffer) as Typed;
  }
  return value;
}

export function encode(value: unknown): string {
  return JSON.stringify(value, replacer);
}

export function decode<T = unknown>(text: string): T {
  return JSON.parse(text, reviver) as T;
}
