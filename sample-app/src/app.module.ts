import { DynamicModule, Module } from '@nestjs/common';
import { PgflowModule } from '../../lib';
import { SampleRunner } from './sample.runner';
import { DocumentStore } from './services/document-store.service';
import { SearchIndex } from './services/search-index.service';
import { TextAnalyzer } from './services/text-analyzer.service';
import { DocumentPipelineWorkflow } from './workflows/document-pipeline.workflow';

/** Where the sample's database is and how to talk to it. */
export interface AppConfig {
  databaseUrl: string;
  /** PGlite serves one transaction at a time: use a single pooled connection and poll often. */
  embedded: boolean;
}

// Without NOTIFY (PGlite) the poll is the only wake-up; the library's 1 s default would
// make each step wait up to a second. With NOTIFY the default is only a safety net.
const EMBEDDED_POLL_MS = 100;

/** The sample application: the workflow, the services it injects, and pgflow itself. */
@Module({})
export class AppModule {
  /** Builds the module for one database. */
  static register(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PgflowModule.forRoot({
          dataSource: {
            type: 'postgres',
            url: config.databaseUrl,
            poolSize: config.embedded ? 1 : 10,
            applicationName: 'pgflow-sample',
          },
          migrationsRun: true,
          worker: config.embedded ? { pollIntervalMs: EMBEDDED_POLL_MS } : {},
        }),
      ],
      providers: [DocumentStore, TextAnalyzer, SearchIndex, DocumentPipelineWorkflow, SampleRunner],
    };
  }
}
