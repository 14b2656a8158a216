import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The library's layers, lowest first. A layer imports only from layers before it
 * (core ← db ← definitions ← client | worker ← schedulers ← the module); client and
 * worker never import each other; the CLI stands on core and db alone; the dashboard
 * (nestjs-pgflow/dashboard) stands on top and nothing imports it. Only
 * lib/db/pgflow-migrations.ts reaches out into ../migrations.
 */
const LAYERS = {
  core: ['lib/core/**', 'lib/interfaces/**'],
  db: ['lib/db/**'],
  definitions: ['lib/definitions/**'],
  client: ['lib/client/**'],
  worker: ['lib/worker/**'],
  schedulers: ['lib/schedulers/**'],
  cli: ['lib/cli/**'],
  dashboard: ['lib/dashboard/**'],
};
const ABOVE = {
  core: ['db', 'definitions', 'client', 'worker', 'schedulers', 'cli', 'dashboard'],
  db: ['definitions', 'client', 'worker', 'schedulers', 'cli', 'dashboard'],
  definitions: ['client', 'worker', 'schedulers', 'cli', 'dashboard'],
  client: ['worker', 'schedulers', 'cli', 'dashboard'],
  worker: ['client', 'schedulers', 'cli', 'dashboard'],
  schedulers: ['worker', 'cli', 'dashboard'],
  cli: ['definitions', 'client', 'worker', 'schedulers', 'dashboard'],
  dashboard: ['definitions', 'worker', 'schedulers', 'cli'],
};
const layerRules = Object.entries(LAYERS).map(([layer, files]) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        {
          regex: `^(\\.\\./)+(${ABOVE[layer].join('|')})(/|$)`,
          message: `lib/${layer} may not import from ${ABOVE[layer].join(', ')} (layers, see eslint.config.mjs)`,
        },
        { regex: '^(\\.\\./)+(pgflow\\.module(-definition)?|index)$', message: 'only lib/index.ts imports the module' },
        ...(layer === 'db' ? [] : [{ regex: '^(\\.\\./)+migrations(/|$)', message: 'import PGFLOW_MIGRATIONS from lib/db/pgflow-migrations' }]),
      ],
    }],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'migrations/generated/**', 'lib/db/queries/sql.generated.ts',
    'bench/peers/**/node_modules/**',
    // compiled inside the throwaway apps of the install check, against the packed library
    'test/install/app/**', 'test/install/app-minimal/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  ...layerRules,
  {
    files: ['scripts/**/*.js', 'bin/**/*.js', 'test/install/*.js'],
    languageOptions: { globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
