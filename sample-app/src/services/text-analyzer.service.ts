import { Injectable } from '@nestjs/common';
import { BatchSummary, Document, DocumentAnalysis } from './document.types';

const STOP_WORDS = new Set([
  'a', 'an', 'and', 'another', 'any', 'at', 'by', 'each', 'every', 'for', 'from', 'in', 'into', 'is', 'it',
  'its', 'many', 'no', 'of', 'on', 'one', 'only', 'or', 'so', 'the', 'there', 'their', 'then', 'to', 'when',
  'while', 'with', 'without', 'again', 'all', 'as', 'be', 'has', 'instead', 'other', 'stays', 'up', 'they',
]);

/** Words of a text, lower-cased, punctuation dropped. */
function words(text: string): string[] {
  return text.toLowerCase().split(/[^a-z]+/).filter(Boolean);
}

/** The `n` most frequent words; longer words win ties (they say more), then the alphabet, so results are stable. */
function top(counts: Map<string, number>, n: number): string[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || b[0].length - a[0].length || a[0].localeCompare(b[0]))
    .slice(0, n)
    .map(([w]) => w);
}

/** Word counts and keywords: the per-document and per-batch text analysis. */
@Injectable()
export class TextAnalyzer {
  /** Analyses one document. */
  analyse(doc: Document): DocumentAnalysis {
    const all = words(`${doc.title} ${doc.body}`);
    const counts = new Map<string, number>();
    for (const w of all) if (!STOP_WORDS.has(w) && w.length > 3) counts.set(w, (counts.get(w) ?? 0) + 1);
    return { id: doc.id, title: doc.title, words: all.length, keywords: top(counts, 3) };
  }

  /** Folds the analyses of a batch into one summary. */
  summarise(analyses: DocumentAnalysis[]): BatchSummary {
    const counts = new Map<string, number>();
    for (const a of analyses) for (const k of a.keywords) counts.set(k, (counts.get(k) ?? 0) + 1);
    const longest = analyses.reduce<DocumentAnalysis | undefined>((l, a) => (!l || a.words > l.words ? a : l), undefined);
    return {
      documents: analyses.length,
      words: analyses.reduce((sum, a) => sum + a.words, 0),
      topKeywords: top(counts, 5),
      longest: longest?.title ?? '',
    };
  }
}
