import { adminQuery } from './database';

export default async function globalTeardown(): Promise<void> {
  const adminUrl = process.env.PGFLOW_TEST_ADMIN_URL;
  const template = process.env.PGFLOW_TEST_TEMPLATE;
  if (adminUrl && template) {
    await adminQuery(adminUrl, `drop database if exists ${template} with (force)`);
  }
  const container = (globalThis as { __PGFLOW_CONTAINER__?: { stop(): Promise<unknown> } }).__PGFLOW_CONTAINER__;
  if (container) await container.stop();
}
