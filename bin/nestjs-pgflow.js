#!/usr/bin/env node
/* global require, process */
'use strict';

try {
  require.resolve('../dist/lib/cli/main.js');
} catch {
  process.stderr.write('nestjs-pgflow: dist/lib/cli/main.js is missing; build the package first (npm run build)\n');
  process.exit(1);
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('../dist/lib/cli/main.js');
