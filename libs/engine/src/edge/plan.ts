/**
 * A switch's dry-run as data, so `infra-edge:switch --dry-run` and the
 * deploy's plan print the same steps and tools can read them. deploy/plan.ts
 * builds on these; they sit here because edge/ may not import deploy/.
 */
export interface WriteFileStep {
  kind: 'write-file';
  path: string;
  /** Unified diff against the live file; empty when the content stays the same. */
  diff: string;
  /** Where the live file is copied first. */
  backup?: string;
}

export type SwitchStep =
  | WriteFileStep
  /** HAProxy Runtime API commands, sent in order through the edge's socket. */
  | { kind: 'runtime'; commands: string[] }
  | { kind: 'reload' }
  | { kind: 'note'; text: string };

/** The text lines one step prints as; a line may span several (a diff). */
export function describeSwitchStep(step: SwitchStep): string[] {
  switch (step.kind) {
    case 'write-file': {
      const head = `write ${step.path}${step.backup ? ` (backup: ${step.backup})` : ''}`;
      return [step.diff ? `${head}:\n${step.diff.trimEnd()}` : `${head} (unchanged)`];
    }
    case 'runtime':
      return step.commands.map((c) => `runtime: ${c}`);
    case 'reload':
      return ['reload HAProxy through its master socket'];
    case 'note':
      return [step.text];
  }
}
