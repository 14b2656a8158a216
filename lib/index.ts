export { PGFLOW_MIGRATIONS } from '../migrations';
