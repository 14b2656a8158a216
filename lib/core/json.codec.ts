import { MAX_PAYLOAD_BYTES } from './pgflow.constants';
import { PgflowValidationError } from './errors/pgflow.error';

// Of the escapes JSON.stringify writes, jsonb refuses two: NUL and lone surrogates
// (paired surrogates are written raw). Behind the match there must be an even run of
// backslashes, so a string holding a literal backslash followed by "u0000" passes.
const UNSTORABLE_ESCAPE = /(?<!\\)(?:\\\\)*\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})/;

/**
 * Serializes a value for a jsonb column, refusing what JSON cannot carry faithfully
 * (BigInt, functions, symbols, non-finite numbers, cycles, NUL characters, lone
 * surrogates) and payloads over MAX_PAYLOAD_BYTES. `undefined` becomes `null`.
 */
export function toJsonText(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, function (key, v: unknown) {
      const at = key === '' ? '' : ` at "${key}"`;
      if (typeof v === 'bigint') throw new PgflowValidationError(`${what} is not JSON: BigInt${at}`);
      if (typeof v === 'function') throw new PgflowValidationError(`${what} is not JSON: function${at}`);
      if (typeof v === 'symbol') throw new PgflowValidationError(`${what} is not JSON: symbol${at}`);
      if (typeof v === 'number' && !Number.isFinite(v)) {
        throw new PgflowValidationError(`${what} is not JSON: ${v}${at}`);
      }
      return v;
    });
  } catch (err) {
    if (err instanceof PgflowValidationError) throw err;
    throw new PgflowValidationError(`${what} is not JSON: ${(err as Error).message}`);
  }
  if (text === undefined) return 'null';
  const unstorable = UNSTORABLE_ESCAPE.exec(text);
  if (unstorable) {
    throw new PgflowValidationError(unstorable[1] === '0000'
      ? `${what} is not storable: contains a NUL character`
      : `${what} is not storable: contains a lone UTF-16 surrogate (\\u${unstorable[1]})`);
  }
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new PgflowValidationError(`${what} is ${bytes} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`);
  }
  return text;
}
