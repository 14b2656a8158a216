import { PgflowDefinitionError } from './errors/pgflow.error';

/** True when `err` says `name` itself is not installed (not a file missing inside it). */
function isNotInstalled(err: unknown, name: string): boolean {
  const e = err as NodeJS.ErrnoException;
  return e?.code === 'MODULE_NOT_FOUND' && String(e.message).startsWith(`Cannot find module '${name}'`);
}

/**
 * Loads an optional peer dependency the first time a feature needs it, so apps that
 * never use the feature need not install the package. `feature` names what needs it
 * in the error a missing package raises.
 */
export function loadOptionalPeer<T>(name: string, feature: string): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (err) {
    if (!isNotInstalled(err, name)) throw err;
    throw new PgflowDefinitionError(`${feature} needs the package "${name}": npm install ${name}`);
  }
}

/** Like `loadOptionalPeer`, but resolves to undefined when the package is not installed. */
export function tryOptionalPeer<T>(name: string): T | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (err) {
    if (isNotInstalled(err, name)) return undefined;
    throw err;
  }
}
