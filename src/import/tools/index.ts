import type { ImportTool, ToolReader } from '../types.js';
import { dbmateReader } from './dbmate.js';
import { drizzleReader } from './drizzle.js';
import { flywayReader } from './flyway.js';
import { golangMigrateReader } from './golang-migrate.js';
import { knexReader } from './knex.js';
import { nodePgMigrateReader } from './node-pg-migrate.js';
import { prismaReader } from './prisma.js';

/** The reader of each tool `ferry import --from` accepts. */
export const READERS: Record<ImportTool, ToolReader> = {
  dbmate: dbmateReader,
  'golang-migrate': golangMigrateReader,
  prisma: prismaReader,
  drizzle: drizzleReader,
  flyway: flywayReader,
  'node-pg-migrate': nodePgMigrateReader,
  knex: knexReader,
};
