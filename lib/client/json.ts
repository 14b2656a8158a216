import { MAX_PAYLOAD_BYTES } from '../pgflow.constants';
import { PgflowValidationError } from '../errors/pgflow.error';

/**
 * Serializes a value for a jsonb column, refusing what JSON cannot carry faithfully
 * (BigInt, functions, symbols, non-finite numbers, cycles, NUL characters) and
 * payloads over MAX_PAYLOAD_BYTES. `undefined` becomes `null`.
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
  if (text.includes('\\u0000')) throw new PgflowValidationError(`${what} is not storable: contains a NUL character`);
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new PgflowValidationError(`${what} is ${bytes} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`);
  }
  return text;
}
