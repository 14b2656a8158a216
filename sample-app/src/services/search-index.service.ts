import { Injectable } from '@nestjs/common';
import { DocumentAnalysis } from './document.types';

/** An in-memory keyword index standing in for a search engine. */
@Injectable()
export class SearchIndex {
  private readonly postings = new Map<string, Set<string>>();

  /** Adds the documents' keywords; re-indexing a document is harmless (steps may run more than once). */
  add(analyses: DocumentAnalysis[]): { documents: number; terms: number } {
    const terms = new Set<string>();
    for (const a of analyses) {
      for (const k of a.keywords) {
        terms.add(k);
        const docs = this.postings.get(k) ?? new Set<string>();
        docs.add(a.id);
        this.postings.set(k, docs);
      }
    }
    return { documents: analyses.length, terms: terms.size };
  }

  /** Ids of the documents indexed under `term`. */
  lookup(term: string): string[] {
    return [...(this.postings.get(term) ?? [])];
  }
}
