import { Type } from '@nestjs/common';
import type * as ClassTransformer from 'class-transformer';
import type * as ClassValidator from 'class-validator';
import { loadOptionalPeer } from '../core/optional-peer';
import { PgflowValidationError } from '../core/errors/pgflow.error';

function flatten(errors: ClassValidator.ValidationError[], prefix = ''): string[] {
  return errors.flatMap((e) => {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => `${path}: ${m}`);
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

/**
 * Validates a run input against a workflow's class-validator DTO; lists every violation.
 * class-validator and class-transformer are optional peers, loaded on the first DTO check.
 */
export async function validateRunInput(flowSlug: string, dto: Type<unknown>, input: unknown): Promise<void> {
  const feature = `the input DTO of workflow "${flowSlug}"`;
  const { plainToInstance } = loadOptionalPeer<typeof ClassTransformer>('class-transformer', feature);
  const { validate } = loadOptionalPeer<typeof ClassValidator>('class-validator', feature);
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new PgflowValidationError(`input of flow "${flowSlug}" is invalid`, [`input must be an object`]);
  }
  const instance = plainToInstance(dto, input) as object;
  const errors = await validate(instance);
  if (errors.length) {
    throw new PgflowValidationError(`input of flow "${flowSlug}" is invalid`, flatten(errors));
  }
}
