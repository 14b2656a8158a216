import { Type } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate, ValidationError } from 'class-validator';
import { PgflowValidationError } from '../errors/pgflow.error';

function flatten(errors: ValidationError[], prefix = ''): string[] {
  return errors.flatMap((e) => {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((m) => `${path}: ${m}`);
    return [...own, ...flatten(e.children ?? [], path)];
  });
}

/** Validates a run input against a workflow's class-validator DTO; lists every violation. */
export async function validateRunInput(flowSlug: string, dto: Type<unknown>, input: unknown): Promise<void> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new PgflowValidationError(`input of flow "${flowSlug}" is invalid`, [`input must be an object`]);
  }
  const instance = plainToInstance(dto, input) as object;
  const errors = await validate(instance);
  if (errors.length) {
    throw new PgflowValidationError(`input of flow "${flowSlug}" is invalid`, flatten(errors));
  }
}
