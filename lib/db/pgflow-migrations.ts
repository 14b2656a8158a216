// The one import of ../../migrations in the library: migrations live at the top of the
// package (SPEC §2) and are reached through here.
export { PGFLOW_MIGRATIONS } from '../../migrations';
