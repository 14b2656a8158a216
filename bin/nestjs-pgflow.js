#!/usr/bin/env node
'use strict';

try {
  require.resolve('../dist/lib/cli/main.js');
} catch {
  process.stderr.write('nestjs-pgflow: dist/lib/cli/main.js is missing; build the package first (npm run build)\n');
  process.exit(1);
}
require('../dist/lib/cli/main.js');
