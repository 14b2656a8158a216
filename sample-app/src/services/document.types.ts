/** A document as fetched from the store. */
export interface Document {
  id: string;
  title: string;
  body: string;
}

/** What the analyser learned about one document. */
export interface DocumentAnalysis {
  id: string;
  title: string;
  words: number;
  keywords: string[];
}

/** The batch-level digest produced by the summarise step. */
export interface BatchSummary {
  documents: number;
  words: number;
  topKeywords: string[];
  longest: string;
}

/** The signal a reviewer sends to release the `approve` step. */
export interface Approval {
  by: string;
}

/** What the index step reports back. */
export interface IndexReceipt {
  documents: number;
  terms: number;
  attempts: number;
}
