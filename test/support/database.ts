import { randomBytes } from 'crypto';
import { Client, ClientConfig } from 'pg';

/** Where the suite's server is, as chosen by the global setup. */
export interface TestServer {
  adminUrl: string;
  template: string;
}

export function testServer(): TestServer {
  const adminUrl = process.env.PGFLOW_TEST_ADMIN_URL;
  const template = process.env.PGFLOW_TEST_TEMPLATE;
  if (!adminUrl || !template) {
    throw new Error('test database not prepared: run the suite through jest (globalSetup)');
  }
  return { adminUrl, template };
}

/** Replaces the database name in a postgres URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + database;
  return u.toString();
}

export async function adminQuery(url: string, sql: string, config: ClientConfig = {}): Promise<void> {
  const client = new Client({ connectionString: url, ...config });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh database cloned from the migrated template; drop it when the file is done. */
export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const { adminUrl, template } = testServer();
  const name = `pgflow_t_${randomBytes(6).toString('hex')}`;
  // CREATE DATABASE ... TEMPLATE fails while another clone of the same template is
  // being created; parallel jest workers retry briefly.
  for (let attempt = 1; ; attempt++) {
    try {
      await adminQuery(adminUrl, `create database ${name} template ${template}`);
      break;
    } catch (err) {
      if (attempt >= 20 || !/being accessed by other users/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
  return {
    name,
    url: withDatabase(adminUrl, name),
    drop: () => dropDatabase(adminUrl, name),
  };
}

/**
 * Drops a test database once its connections are gone. pg's `Pool.end()` resolves
 * before its sockets close, and a forced drop then terminates those backends, whose
 * FATAL 57P01 reaches a client nobody listens to any more and crashes the test file.
 * So wait for a plain drop to succeed; force only connections that outlive the wait
 * (e.g. of a worker process that was killed outright).
 */
async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      await adminQuery(adminUrl, `drop database if exists ${name}`);
      return;
    } catch (err) {
      if (!/being accessed by other users/.test(String(err))) throw err;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
}
