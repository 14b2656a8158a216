// The workflow every install check runs: two steps, the second depends on the first,
// and a class-validator DTO for the run input.
import { IsInt, IsString, Max, Min, MinLength } from 'class-validator';
import { Step, StepContext, Workflow } from 'nestjs-pgflow';

export class GreetInput {
  @IsString()
  @MinLength(1)
  name!: string;

  @IsInt()
  @Min(1)
  @Max(5)
  times!: number;
}

@Workflow({ slug: 'greet', input: GreetInput, maxAttempts: 1 })
export class GreetWorkflow {
  @Step()
  hello(input: { run: GreetInput }): { text: string } {
    return { text: `hello ${input.run.name}` };
  }

  @Step({ dependsOn: ['hello'] })
  shout(input: { run: GreetInput; hello: { text: string } }, ctx: StepContext): { text: string; step: string } {
    const text = Array.from({ length: input.run.times }, () => input.hello.text.toUpperCase()).join(' ');
    return { text, step: ctx.stepSlug };
  }
}

export const EXPECTED_OUTPUT = { shout: { text: 'HELLO ADA HELLO ADA', step: 'shout' } };
