import { SampleOutcome } from './sample.runner';
import { PipelineReport } from './workflows/document-pipeline.workflow';

/** The closing lines: the first run's result as one JSON line, a human summary, throughput. */
export function formatOutcome(outcome: SampleOutcome): string[] {
  const lines: string[] = [];
  const [first] = outcome.runs;
  const failed = outcome.runs.filter((r) => r.status !== 'completed');
  for (const run of failed) {
    const why = run.error ? `step ${run.error.stepSlug} (task ${run.error.taskIndex}): ${run.error.message}` : run.status;
    lines.push(`run ${run.runId} ${run.status}: ${why}`);
  }
  if (first?.status === 'completed') {
    lines.push(`result: ${JSON.stringify(first.output)}`);
    const { report } = first.output as { report: PipelineReport };
    lines.push(
      `${report.batchId}: analysed ${report.documents} documents (${report.words} words); ` +
      `top keywords: ${report.topKeywords.join(', ')}; longest: "${report.longest}"`,
      `indexed ${report.indexedTerms} terms; the index step succeeded on attempt ${report.indexAttempts} ` +
      `(attempt 1 failed on purpose and was retried)`,
    );
  }
  const seconds = outcome.elapsedMs / 1000;
  const completed = outcome.runs.length - failed.length;
  lines.push(`throughput: ${completed}/${outcome.runs.length} runs completed in ${seconds.toFixed(2)} s ` +
    `(${(completed / seconds).toFixed(2)} runs/s)`);
  return lines;
}
