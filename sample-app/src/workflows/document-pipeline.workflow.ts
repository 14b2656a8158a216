import { NonRetryableError, Step, StepContext, Workflow } from '../../../lib';
import { DocumentStore } from '../services/document-store.service';
import { Approval, BatchSummary, Document, DocumentAnalysis, IndexReceipt } from '../services/document.types';
import { SearchIndex } from '../services/search-index.service';
import { TextAnalyzer } from '../services/text-analyzer.service';
import { DocumentBatchInput } from './document-batch.input';

/** The run's final output (under the leaf step's slug, `report`). */
export interface PipelineReport {
  batchId: string;
  documents: number;
  words: number;
  topKeywords: string[];
  longest: string;
  indexedTerms: number;
  indexAttempts: number;
  approvedBy: string;
}

/**
 * fetchDocuments → analyse (one task per document) → summarise ∥ index → report, and
 * `approve` between summarise and report: it waits for a reviewer's `approved` signal.
 * The steps are plain methods on a DI-managed provider, so they use injected services.
 */
@Workflow({ slug: 'document_pipeline', input: DocumentBatchInput, maxAttempts: 3, baseDelay: 1, timeout: 30 })
export class DocumentPipelineWorkflow {
  constructor(
    private readonly store: DocumentStore,
    private readonly analyzer: TextAnalyzer,
    private readonly index: SearchIndex,
  ) {}

  /** Root step: loads the batch named in the run input. */
  @Step()
  fetchDocuments(input: { run: DocumentBatchInput }): Document[] {
    return this.store.fetchBatch(input.run.batchId, input.run.size);
  }

  /** Map step: one task per fetched document, spread over every worker. */
  @Step({ dependsOn: ['fetchDocuments'], map: 'fetchDocuments' })
  analyse(doc: Document): DocumentAnalysis {
    return this.analyzer.analyse(doc);
  }

  /** Runs in parallel with `index`: both depend only on the map's collected output. */
  @Step({ dependsOn: ['analyse'] })
  summarise(input: { analyse: DocumentAnalysis[] }): BatchSummary {
    return this.analyzer.summarise(input.analyse);
  }

  /**
   * Fails its first attempt on purpose, as a search cluster that is still warming up
   * would; pgflow retries it after `baseDelay` seconds and the run carries on.
   */
  @Step({ dependsOn: ['analyse'], maxAttempts: 3, baseDelay: 1 })
  indexDocuments(input: { analyse: DocumentAnalysis[] }, ctx: StepContext): IndexReceipt {
    if (ctx.attempt === 1) throw new Error('search index is warming up (simulated transient failure)');
    return { ...this.index.add(input.analyse), attempts: ctx.attempt };
  }

  /**
   * A signal step: once the summary exists it waits, holding no worker slot, until a
   * reviewer sends the `approved` signal (here the sample's runner, on seeing it wait).
   * Without one within 10 minutes the step is exhausted and the run fails.
   */
  @Step({ dependsOn: ['summarise'], signal: 'approved', signalTimeout: 600 })
  approve(input: { summarise: BatchSummary; signal: Approval }): Approval {
    return { by: input.signal.by };
  }

  /** Joins both branches and the approval into the run's output. */
  @Step({ dependsOn: ['summarise', 'indexDocuments', 'approve'] })
  report(input: { run: DocumentBatchInput; summarise: BatchSummary; indexDocuments: IndexReceipt;
    approve: Approval }): PipelineReport {
    if (input.indexDocuments.documents !== input.summarise.documents) {
      // retrying cannot fix inconsistent inputs: fail the run at once
      throw new NonRetryableError(`indexed ${input.indexDocuments.documents} of ${input.summarise.documents} documents`);
    }
    return {
      batchId: input.run.batchId,
      documents: input.summarise.documents,
      words: input.summarise.words,
      topKeywords: input.summarise.topKeywords,
      longest: input.summarise.longest,
      indexedTerms: input.indexDocuments.terms,
      indexAttempts: input.indexDocuments.attempts,
      approvedBy: input.approve.by,
    };
  }
}
