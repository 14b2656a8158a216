#!/usr/bin/env node
/*
 * Install matrix (issue 13, SPEC §12): packs nestjs-pgflow and installs the tarball with a
 * plain `npm install` into fresh throwaway Nest apps, one per directory of
 * test/install/apps/ (lowest versions of every peer range, one between, the newest).
 * Each app must
 *   - install without overrides, --legacy-peer-deps or --force; `npm ls --all` clean;
 *   - hold exactly one copy of every peer (nothing nested under nestjs-pgflow);
 *   - type-check strictly (strict, skipLibCheck: false; app/tsconfig.json) and compile;
 *   - boot on a fresh database (migrationsRun), execute a run, reject invalid input with
 *     PgflowValidationError, close, and leave the DataSource it handed to pgflow open;
 *     log through app.useLogger(), print nothing with logger: false (app/src/*.ts).
 *
 * The apps' node_modules are cached by the sha256 of their committed package-lock.json
 * (generated without the tarball) in ${XDG_CACHE_HOME:-~/.cache}/nestjs-pgflow-install;
 * `npm ci` runs only on a miss. Plain Node, no dependencies beyond the repo's own `pg`.
 *
 *   node test/install/run.js [--only a,b] [--jobs N] [--tarball file.tgz] [--keep]
 *
 *   --only     run these apps only (names of test/install/apps/*)
 *   --jobs     apps at a time (default 2)
 *   --tarball  install this tarball instead of packing the working tree
 *   --keep     keep the temp dirs and databases (printed) for a look afterwards
 *
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the server;
 * each app entry gets its own database, dropped afterwards.
 */
'use strict';

const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const HERE = __dirname;
const APPS_DIR = path.join(HERE, 'apps');
const TEMPLATE_DIR = path.join(HERE, 'app');
/** Sources of apps without the optional peers (class-validator, class-transformer, @nestjs/schedule). */
const MINIMAL_TEMPLATE_DIR = path.join(HERE, 'app-minimal');
/** Optional peers: an app without them must still install, type-check and run. */
const OPTIONAL_PEERS = ['class-validator', 'class-transformer'];
const CACHE_ROOT = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'nestjs-pgflow-install');
const ADMIN_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** Every peer of nestjs-pgflow an app installs: each must exist exactly once in its tree. */
const PEERS = ['@nestjs/common', '@nestjs/core', 'typeorm', 'pg', 'rxjs', 'reflect-metadata',
  'class-validator', 'class-transformer'];
/** Shown in the summary line, in this order. */
const SHOWN = ['@nestjs/core', '@nestjs/typeorm', 'typeorm', 'pg', 'rxjs', 'reflect-metadata',
  'class-validator', 'class-transformer', 'typescript'];
/** Entry points of app/src: the TypeORM one needs @nestjs/typeorm in the app. */
const ENTRIES = [
  { file: 'typeorm-app', needs: '@nestjs/typeorm' },
  { file: 'bare-app' },
];
/** Entry point of app-minimal/src. */
const MINIMAL_ENTRIES = [{ file: 'minimal-app' }];

function parseArgs(argv) {
  const args = { jobs: 2, only: null, tarball: null, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--only') args.only = value().split(',').filter(Boolean);
    else if (a === '--jobs') args.jobs = Math.max(1, Number(value()) || 1);
    else if (a === '--tarball') args.tarball = path.resolve(value());
    else if (a === '--keep') args.keep = true;
    else usage(`unknown argument ${a}`);
  }
  return args;
}

function usage(message) {
  console.error(`${message}\nusage: node test/install/run.js [--only a,b] [--jobs N] [--tarball file.tgz] [--keep]`);
  process.exit(2);
}

/** A failed check: `check` names it in the summary. */
class CheckError extends Error {
  constructor(check, message) {
    super(message);
    this.check = check;
  }
}

/** Runs a command; resolves { code, out } (stdout and stderr interleaved). */
function exec(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = opts.timeoutMs ? setTimeout(() => {
      out += `\n[run.js] ${cmd} ${args.join(' ')} timed out after ${opts.timeoutMs / 1000} s; killed`;
      child.kill('SIGKILL');
    }, opts.timeoutMs) : null;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), out });
    });
  });
}

/** Like exec, but a non-zero exit fails `check` with the command's output. */
async function must(check, cmd, args, opts) {
  const { code, out } = await exec(cmd, args, opts);
  if (code !== 0) throw new CheckError(check, `\`${[cmd, ...args].join(' ')}\` exited ${code}:\n${tail(out)}`);
  return out;
}

function tail(text, lines = 40) {
  const all = text.trimEnd().split('\n');
  return (all.length > lines ? ['…', ...all.slice(-lines)] : all).join('\n');
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPM_QUIET = ['--no-audit', '--no-fund', '--loglevel=error'];

// ---------------------------------------------------------------- database

function loadPg() {
  try {
    return require(require.resolve('pg', { paths: [ROOT] }));
  } catch (err) {
    console.error(`[install] cannot load pg from the repository (${err.message}); run npm ci first`);
    process.exit(2);
  }
}

async function admin(sql) {
  const { Client } = loadPg();
  const client = new Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function databaseUrl(name) {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

// ---------------------------------------------------------------- packing

async function pack(tmpRoot) {
  const dest = path.join(tmpRoot, 'pack');
  fs.mkdirSync(dest);
  const started = Date.now();
  // prepack builds dist/ (npm run build)
  const out = await must('pack', npm, ['pack', '--json', '--pack-destination', dest, ...NPM_QUIET],
    { cwd: ROOT, timeoutMs: 300_000 });
  const json = out.slice(out.indexOf('['));
  let filename;
  try {
    filename = JSON.parse(json)[0].filename;
  } catch {
    filename = fs.readdirSync(dest).find((f) => f.endsWith('.tgz'));
  }
  if (!filename) throw new CheckError('pack', `npm pack wrote no tarball:\n${tail(out)}`);
  const tarball = path.join(dest, filename.replace(/^@/, '').replace('/', '-'));
  if (!fs.existsSync(tarball)) throw new CheckError('pack', `npm pack: ${tarball} is missing`);
  console.log(`[install] packed ${path.basename(tarball)} in ${secs(started)} s`);
  return tarball;
}

// ---------------------------------------------------------------- one app

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function secs(since) {
  return ((Date.now() - since) / 1000).toFixed(1);
}

function copyDir(from, to) {
  fs.cpSync(from, to, { recursive: true });
}

/**
 * node_modules from the cache (hard links: fast, and npm replaces files by writing new
 * ones, never in place, except its hidden lockfile, which is copied) or npm ci on a miss.
 */
async function restoreNodeModules(name, dir, log) {
  const key = `${name}-${sha256(path.join(dir, 'package-lock.json')).slice(0, 16)}-node${process.versions.node.split('.')[0]}`;
  const cached = path.join(CACHE_ROOT, key);
  const target = path.join(dir, 'node_modules');
  if (fs.existsSync(path.join(cached, '.complete'))) {
    const linked = await exec('cp', ['-al', path.join(cached, 'node_modules'), target]);
    if (linked.code !== 0) {
      // another filesystem: copy instead
      fs.rmSync(target, { recursive: true, force: true });
      await must('cache', 'cp', ['-a', path.join(cached, 'node_modules'), target]);
    }
    const now = new Date();
    fs.utimesSync(path.join(cached, '.complete'), now, now); // last use, for pruneCache
    const hidden = path.join(target, '.package-lock.json');
    if (fs.existsSync(hidden)) {
      fs.rmSync(hidden);
      fs.copyFileSync(path.join(cached, 'node_modules', '.package-lock.json'), hidden);
    }
    log.cache = 'hit';
    return;
  }
  log.cache = 'miss';
  await must('npm ci', npm, ['ci', ...NPM_QUIET], { cwd: dir, timeoutMs: 600_000 });
  const staging = `${cached}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    fs.mkdirSync(staging, { recursive: true });
    await must('cache', 'cp', ['-a', target, path.join(staging, 'node_modules')]);
    fs.writeFileSync(path.join(staging, '.complete'), `${new Date().toISOString()}\n`);
    // a concurrent run may have filled it meanwhile: keep that one
    if (fs.existsSync(path.join(cached, '.complete'))) fs.rmSync(staging, { recursive: true, force: true });
    else {
      fs.rmSync(cached, { recursive: true, force: true });
      fs.renameSync(staging, cached);
    }
    pruneCache(name, key);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    log.notes.push(`could not fill the cache: ${err.message}`);
  }
}

/** Drops this app's other cache entries (older lockfiles) unused for PRUNE_DAYS. */
const PRUNE_DAYS = 14;
function pruneCache(name, keep) {
  const cutoff = Date.now() - PRUNE_DAYS * 86_400_000;
  for (const entry of fs.readdirSync(CACHE_ROOT)) {
    if (entry === keep || !entry.startsWith(`${name}-`)) continue;
    const dir = path.join(CACHE_ROOT, entry);
    const marker = path.join(dir, '.complete');
    const used = fs.existsSync(marker) ? fs.statSync(marker).mtimeMs : fs.statSync(dir).mtimeMs;
    // only entries of exactly this app (<name>-<16 hex>-node<N>), not of apps sharing a prefix
    if (used < cutoff && /^[0-9a-f]{16}-node\d+(\.tmp-.*)?$/.test(entry.slice(name.length + 1))) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

/**
 * `npm ls --all` clean (no invalid or missing peers); exactly one copy of every peer, at
 * node_modules/<peer> (one `npm ls --all --parseable --long` lists every copy's path).
 */
async function checkDedupe(dir, peers) {
  const ls = await exec(npm, ['ls', '--all', '--parseable', '--long'], { cwd: dir });
  if (ls.code !== 0) {
    const human = await exec(npm, ['ls', '--all'], { cwd: dir });
    const problems = human.out.split('\n').filter((l) => /UNMET|invalid|extraneous|ERR!|missing/.test(l));
    throw new CheckError('npm ls', `\`npm ls --all\` exited ${ls.code}:\n${tail(problems.join('\n') || human.out)}`);
  }
  const copies = new Map(peers.map((p) => [p, []]));
  for (const line of ls.out.split('\n')) {
    const m = /^(\/.*?\/node_modules\/((?:@[^/:]+\/)?[^/:]+)):/.exec(line.trim());
    if (m && copies.has(m[2])) copies.get(m[2]).push(path.relative(dir, m[1]));
  }
  const wrong = [...copies].filter(([peer, where]) => where.length !== 1 || where[0] !== path.join('node_modules', peer));
  if (wrong.length) {
    throw new CheckError('one copy', wrong.map(([peer, where]) => `\`npm ls ${peer}\` shows ${where.length} ` +
      `copies, expected one at node_modules/${peer}: ${where.join(', ') || '(none)'}`).join('\n'));
  }
  const nested = path.join(dir, 'node_modules', 'nestjs-pgflow', 'node_modules');
  const nestedNames = fs.existsSync(nested) ? listPackages(nested) : [];
  const nestedPeers = nestedNames.filter((n) => PEERS.includes(n) || n.startsWith('@nestjs/'));
  if (nestedPeers.length) {
    throw new CheckError('one copy', `nested under node_modules/nestjs-pgflow/node_modules: ${nestedPeers.join(', ')}`);
  }
  return nestedNames;
}

function listPackages(nodeModules) {
  const names = [];
  for (const entry of fs.readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const sub of fs.readdirSync(path.join(nodeModules, entry))) names.push(`${entry}/${sub}`);
    } else names.push(entry);
  }
  return names;
}

function installedVersions(dir) {
  const versions = {};
  for (const name of SHOWN) {
    const file = path.join(dir, 'node_modules', name, 'package.json');
    if (fs.existsSync(file)) versions[name] = JSON.parse(fs.readFileSync(file, 'utf8')).version;
  }
  return versions;
}

async function runEntry(name, dir, entry, keep, log) {
  const db = `pgflow_install_${name.replace(/[^a-z0-9]/gi, '_')}_${entry.file.replace(/-/g, '_')}_${process.pid}`.toLowerCase();
  await admin(`drop database if exists ${db}`);
  await admin(`create database ${db}`);
  try {
    const { code, out } = await exec(process.execPath, [path.join('dist', `${entry.file}.js`)], {
      cwd: dir, env: { DATABASE_URL: databaseUrl(db) }, timeoutMs: 90_000,
    });
    if (code !== 0 || !/^CHECKS PASSED$/m.test(out)) {
      const failed = /^CHECK FAILED ([\w-]+): ([\s\S]*)$/m.exec(out);
      if (failed) throw new CheckError(`${entry.file}: ${failed[1]}`, tail(failed[2]));
      throw new CheckError(`${entry.file}: boot`, `node dist/${entry.file}.js exited ${code}:\n${tail(out)}`);
    }
  } finally {
    if (keep) log.notes.push(`kept database ${db}`);
    else await admin(`drop database if exists ${db} with (force)`).catch((err) => log.notes.push(`drop ${db}: ${err.message}`));
  }
}

async function runApp(name, tarball, tmpRoot, keep) {
  const started = Date.now();
  const log = { name, cache: '-', versions: {}, notes: [], timings: {} };
  const dir = path.join(tmpRoot, name);
  const step = async (label, fn) => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      log.timings[label] = secs(t);
    }
  };
  try {
    fs.mkdirSync(dir);
    for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(APPS_DIR, name, f), path.join(dir, f));
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const deps = { ...pkg.dependencies, ...pkg.devDependencies };
    const minimal = OPTIONAL_PEERS.every((p) => !deps[p]);
    copyDir(minimal ? MINIMAL_TEMPLATE_DIR : TEMPLATE_DIR, dir);

    await step('restore', () => restoreNodeModules(name, dir, log));
    // plain npm install of the tarball, as a user would (no overrides, no --force)
    await step('install', () => must('install', npm, ['install', ...NPM_QUIET, tarball], { cwd: dir, timeoutMs: 300_000 }));
    log.versions = installedVersions(dir);
    const nested = await step('npm ls', () => checkDedupe(dir, minimal ? PEERS.filter((p) => !OPTIONAL_PEERS.includes(p)) : PEERS));
    if (nested.length) log.notes.push(`nested under nestjs-pgflow: ${nested.join(', ')}`);

    // the app's sources: only the entries whose packages the app has
    const all = minimal ? MINIMAL_ENTRIES : ENTRIES;
    const entries = all.filter((e) => !e.needs || deps[e.needs]);
    for (const e of all) if (!entries.includes(e)) fs.rmSync(path.join(dir, 'src', `${e.file}.ts`));
    await step('tsc', () => must('typecheck', process.execPath,
      [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: dir, timeoutMs: 300_000 }));
    for (const entry of entries) await step(entry.file, () => runEntry(name, dir, entry, keep, log));
    log.result = 'PASS';
  } catch (err) {
    log.result = 'FAIL';
    log.check = err instanceof CheckError ? err.check : 'run.js';
    log.error = err instanceof CheckError ? err.message : (err && err.stack) || String(err);
  } finally {
    log.seconds = secs(started);
    if (keep) log.notes.push(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
  return log;
}

// ---------------------------------------------------------------- main

function summaryLine(r) {
  const v = SHOWN.filter((n) => r.versions[n]).map((n) => `${n.replace('@nestjs/', 'nest-')} ${r.versions[n]}`).join(', ');
  const failed = r.result === 'FAIL' ? ` [${r.check}]` : '';
  return `${r.result} ${r.name.padEnd(14)} ${String(r.seconds).padStart(5)} s (cache ${r.cache})${failed}  ${v}`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  let names = fs.readdirSync(APPS_DIR).filter((n) => fs.existsSync(path.join(APPS_DIR, n, 'package-lock.json'))).sort();
  if (args.only) {
    const unknown = args.only.filter((n) => !names.includes(n));
    if (unknown.length) usage(`unknown app(s): ${unknown.join(', ')} (have: ${names.join(', ')})`);
    names = names.filter((n) => args.only.includes(n));
  }

  try {
    await admin('select 1');
  } catch (err) {
    console.error(`[install] cannot reach Postgres at ${new URL(ADMIN_URL).host}: ${err.message}`);
    process.exit(2);
  }

  fs.mkdirSync(CACHE_ROOT, { recursive: true });
  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'pgflow-install-'));
  const results = [];
  try {
    let tarball = args.tarball;
    if (!tarball) {
      try {
        tarball = await pack(tmpRoot);
      } catch (err) {
        console.error(`FAIL pack: ${err.message}`);
        process.exit(1);
      }
    }
    console.log(`[install] ${names.length} app(s), ${args.jobs} at a time: ${names.join(', ')}`);
    const queue = [...names];
    const worker = async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        const r = await runApp(name, tarball, tmpRoot, args.keep);
        results.push(r);
        const t = Object.entries(r.timings).map(([k, s]) => `${k} ${s}`).join(', ');
        console.log(`[install] ${r.result} ${r.name} in ${r.seconds} s (${t})${r.notes.length ? `; ${r.notes.join('; ')}` : ''}`);
        if (r.result === 'FAIL') console.log(`[install] ${r.name} failed check "${r.check}":\n${indent(r.error)}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(args.jobs, names.length) }, worker));
  } finally {
    if (!args.keep) fs.rmSync(tmpRoot, { recursive: true, force: true });
  }

  results.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name));
  console.log('\ninstall matrix:');
  for (const r of results) console.log(summaryLine(r));
  const failed = results.filter((r) => r.result !== 'PASS');
  console.log(`${results.length - failed.length}/${results.length} apps passed in ${secs(started)} s`);
  if (failed.length) {
    for (const r of failed) console.log(`FAIL ${r.name}: ${r.check}: ${r.error.split('\n')[0]}`);
    process.exit(1);
  }
}

function indent(text) {
  return text.split('\n').map((l) => `    ${l}`).join('\n');
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
