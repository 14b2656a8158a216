import { adminQuery } from './database';

export default async function globalTeardown(): Promise<void> {
  const adminUrl = process.env.PGFLOW_TEST_ADMIN_URL;
  const template = process.env.PGFLOW_TEST_TEMPLATE;
  if (adminUrl && template) {
    await adminQuery(adminUrl, `drop database if exists ${template} with (force)`);
    // each project names this teardown: the first one drops the template
    delete process.env.PGFLOW_TEST_TEMPLATE;
  }
  const container = (globalThis as { __PGFLOW_CONTAINER__?: { stop(): Promise<unknown> } }).__PGFLOW_CONTAINER__;
  if (container) {
    delete (globalThis as { __PGFLOW_CONTAINER__?: unknown }).__PGFLOW_CONTAINER__;
    await container.stop();
  }
}
