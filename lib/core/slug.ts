/**
 * The slug rule of flows and steps. The database is the authority (CHECKs on
 * pgflow.flows/steps and pgflow.assert_slug); this copy gives earlier, clearer boot
 * errors, and test/sql/rules.spec.ts keeps the two in agreement.
 */
export const SLUG_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Longest slug the tables accept. */
export const MAX_SLUG_LENGTH = 128;

/** Why `slug` is not a valid slug, or null when it is. */
export function slugProblem(slug: unknown): string | null {
  if (typeof slug !== 'string' || !SLUG_PATTERN.test(slug)) {
    return `invalid slug ${JSON.stringify(slug)}: must match ${SLUG_PATTERN.source}`;
  }
  if (slug.length > MAX_SLUG_LENGTH) {
    return `invalid slug "${slug.slice(0, 20)}...": longer than ${MAX_SLUG_LENGTH} characters`;
  }
  return null;
}
