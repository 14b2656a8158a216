import { PgflowDefinitionError } from '../errors/pgflow.error';

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
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND' || !String(err).includes(name)) throw err;
    throw new PgflowDefinitionError(`${feature} needs the package "${name}": npm install ${name}`);
  }
}

/** Like `loadOptionalPeer`, but resolves to undefined when the package is not installed. */
export function tryOptionalPeer<T>(name: string): T | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String(err).includes(name)) return undefined;
    throw err;
  }
}
