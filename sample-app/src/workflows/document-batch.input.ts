import { IsInt, IsString, Matches, Max, Min } from 'class-validator';

/** Input of a document_pipeline run; checked by class-validator before anything is written. */
export class DocumentBatchInput {
  /** Which batch to process. */
  @IsString()
  @Matches(/^[a-z0-9-]{1,64}$/)
  batchId!: string;

  /** How many documents the batch holds (one `analyse` task each). */
  @IsInt()
  @Min(1)
  @Max(100)
  size!: number;
}
