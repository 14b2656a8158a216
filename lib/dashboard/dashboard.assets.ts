import { Injectable, NotFoundException } from '@nestjs/common';
import { existsSync, readdirSync, readFileSync } from 'fs';
import { extname, join } from 'path';

/** Content types of the files Vite emits. */
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Where `index.html` sets the base path of the page (the placeholder Vite's `base` writes). */
const BASE_PLACEHOLDER = '/__PGFLOW_BASE__/';

/** A built file, read once. */
export interface DashboardAsset {
  body: Buffer;
  type: string;
}

const escapeAttr = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The UI built by `npm run build` (dist/dashboard: index.html and assets/), shipped in
 * the package and read from disk once, at first use. Nothing is fetched from elsewhere.
 */
@Injectable()
export class DashboardAssets {
  private dir?: string;
  private assets?: Map<string, DashboardAsset>;
  private html?: string;

  /** The page, its asset URLs and the `pgflow-base` meta tag pointing at `base` (the mount path as requested). */
  page(base: string, readOnly: boolean): string {
    this.load();
    const b = escapeAttr(base);
    return (this.html as string)
      .split(BASE_PLACEHOLDER).join(`${b}/`)
      .replace('<head>', `<head>\n    <meta name="pgflow-base" content="${b}">\n    <meta name="pgflow-read-only" content="${readOnly}">`);
  }

  /** A file of assets/, or 404. */
  asset(file: string): DashboardAsset {
    this.load();
    const asset = this.assets?.get(file);
    if (!asset) throw new NotFoundException(`no asset ${file}`);
    return asset;
  }

  private load(): void {
    if (this.html !== undefined) return;
    const dir = this.directory();
    const assets = new Map<string, DashboardAsset>();
    const assetDir = join(dir, 'assets');
    for (const file of existsSync(assetDir) ? readdirSync(assetDir) : []) {
      assets.set(file, { body: readFileSync(join(assetDir, file)), type: TYPES[extname(file)] ?? 'application/octet-stream' });
    }
    this.assets = assets;
    this.html = readFileSync(join(dir, 'index.html'), 'utf8');
  }

  // dist/lib/dashboard → dist/dashboard when installed; lib/dashboard → dist/dashboard in this repository
  private directory(): string {
    if (this.dir) return this.dir;
    const candidates = [join(__dirname, '..', '..', 'dashboard'), join(__dirname, '..', '..', 'dist', 'dashboard')];
    const found = candidates.find((d) => existsSync(join(d, 'index.html')));
    if (!found) throw new Error(`nestjs-pgflow dashboard: no built UI in ${candidates.join(' or ')} (npm run build)`);
    this.dir = found;
    return found;
  }
}
