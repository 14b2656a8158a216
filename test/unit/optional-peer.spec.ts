import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { loadOptionalPeer, tryOptionalPeer } from '../../lib/core/optional-peer';
import { PgflowDefinitionError } from '../../lib/core/errors/pgflow.error';

describe('optional peers', () => {
  it('names the feature and the install command when the package is missing', () => {
    expect(() => loadOptionalPeer('pgflow-no-such-package', 'the input DTO of workflow "orders"'))
      .toThrow(new PgflowDefinitionError(
        'the input DTO of workflow "orders" needs the package "pgflow-no-such-package": npm install pgflow-no-such-package'));
    expect(tryOptionalPeer('pgflow-no-such-package')).toBeUndefined();
  });

  it('loads an installed package', () => {
    expect(loadOptionalPeer<typeof import('class-validator')>('class-validator', 'x').validate).toBeInstanceOf(Function);
    expect(tryOptionalPeer<typeof import('@nestjs/schedule')>('@nestjs/schedule')?.SchedulerRegistry).toBeInstanceOf(Function);
  });

  it('does not hide a broken install (a missing file inside an installed package) as "not installed"', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgflow-peer-'));
    try {
      const pkg = join(dir, 'node_modules', 'pgflow-broken-peer');
      mkdirSync(pkg, { recursive: true });
      writeFileSync(join(pkg, 'index.js'), "require('./missing-file');");
      const path = join(pkg, 'index.js');
      expect(() => loadOptionalPeer(path, 'x')).toThrow(/missing-file/);
      expect(() => loadOptionalPeer(path, 'x')).not.toThrow(PgflowDefinitionError);
      expect(() => tryOptionalPeer(path)).toThrow(/missing-file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
