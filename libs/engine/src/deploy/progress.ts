import { describeError } from '../log/errors';
import { defaultFormat, type LogFormat } from '../log/logger';
import { redact } from '../log/redact';
import { describeStep, type DeployStep } from './plan';

/**
 * Phase-by-phase progress of a deploy, rollback or cleanup. A TTY gets
 * aligned lines with symbols and durations, CI and pipes plain lines that
 * grep well, machines one JSON object per event (a dry-run's plan steps
 * included, as `plan` events in the phase that planned them). Lines are only ever
 * appended (no cursor tricks), so they interleave safely with the logger.
 */
export type PhaseStatus = 'ok' | 'failed' | 'skipped';
export type Outcome = 'success' | 'failure' | 'noop';

export interface PhaseResult {
  id: string;
  title: string;
  status: PhaseStatus;
  durationMs: number;
  detail?: string;
}

export type ProgressEvent =
  | { event: 'phase-start'; time: string; id: string; title: string }
  | ({ event: 'phase-end'; time: string } & PhaseResult)
  | { event: 'step'; time: string; id?: string; message: string }
  | { event: 'plan'; time: string; id?: string; step: DeployStep }
  | { event: 'summary'; time: string; title: string; outcome: Outcome; durationMs: number; message?: string; phases: PhaseResult[] };

export interface FormatOptions {
  mode: LogFormat;
  /** ANSI colours in pretty mode; off when NO_COLOR is set. */
  color?: boolean;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

const SYMBOL: Record<PhaseStatus | Outcome, string> = { ok: '✔', success: '✔', failed: '✖', failure: '✖', skipped: '-', noop: '=' };
const COLOR: Record<PhaseStatus | Outcome, string> = { ok: '32', success: '32', failed: '31', failure: '31', skipped: '33', noop: '36' };
const LABEL_WIDTH = 20;
const DURATION_WIDTH = 7;

/** The line one event prints as, in the given mode. Pure, so every format is tested without a terminal. */
export function formatEvent(e: ProgressEvent, opts: FormatOptions): string {
  if (opts.mode === 'json') return redact(JSON.stringify(e));
  return redact(opts.mode === 'pretty' ? pretty(e, opts.color ?? false) : plain(e));
}

function pretty(e: ProgressEvent, color: boolean): string {
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const label = (id: string, title: string) => `${id} ${title}`.padEnd(LABEL_WIDTH);
  switch (e.event) {
    case 'phase-start':
      return paint('2', `… ${label(e.id, e.title).trimEnd()}`);
    case 'phase-end': {
      const took = e.status === 'skipped' ? '' : formatDuration(e.durationMs);
      const detail = e.detail ? `  ${e.detail}` : '';
      return `${paint(COLOR[e.status], SYMBOL[e.status])} ${label(e.id, e.title)} ${took.padStart(DURATION_WIDTH)}${detail}`.trimEnd();
    }
    case 'step':
      return paint('2', `    ${e.message}`);
    case 'plan':
      return describeStep(e.step).map((l) => paint('2', `    [plan] ${l}`)).join('\n');
    case 'summary': {
      const verb = { success: 'done', failure: 'FAILED', noop: 'nothing to do' }[e.outcome];
      const head = `${paint(COLOR[e.outcome], SYMBOL[e.outcome])} ${e.title}: ${verb} in ${formatDuration(e.durationMs)}`;
      return e.message ? `${head} — ${e.message}` : head;
    }
  }
}

function plain(e: ProgressEvent): string {
  switch (e.event) {
    case 'phase-start':
      return `[${e.id}] ${e.title}: started`;
    case 'phase-end': {
      const what = { ok: `ok in ${formatDuration(e.durationMs)}`, failed: `FAILED after ${formatDuration(e.durationMs)}`, skipped: 'skipped' }[e.status];
      return `[${e.id}] ${e.title}: ${what}${e.detail ? `: ${e.detail}` : ''}`;
    }
    case 'step':
      return e.id ? `[${e.id}] ${e.message}` : e.message;
    case 'plan':
      return describeStep(e.step).map((l) => `${e.id ? `[${e.id}] ` : ''}[plan] ${l}`).join('\n');
    case 'summary': {
      const phases = e.phases.map((p) => `${p.id} ${p.status === 'skipped' ? 'skipped' : formatDuration(p.durationMs)}${p.status === 'failed' ? ' FAILED' : ''}`).join(', ');
      return `${e.title}: ${e.outcome} in ${formatDuration(e.durationMs)}${phases ? ` (${phases})` : ''}${e.message ? ` — ${e.message}` : ''}`;
    }
  }
}

/** What a phase's work can report while it runs. */
export interface PhaseContext {
  step(message: string): void;
  /** Shown at the end of the phase line, e.g. "no pending migrations". */
  note(detail: string): void;
}

export interface Progress {
  /** Runs one phase, timing it; a throw marks it failed and is rethrown unchanged. */
  phase<T>(id: string, title: string, work: (p: PhaseContext) => Promise<T>): Promise<T>;
  skip(id: string, title: string, reason: string): void;
  step(message: string): void;
  /** One step of a dry-run's plan. */
  planned(step: DeployStep): void;
  /** The closing line; returns what was reported for callers that also print JSON. */
  summary(outcome: Outcome, message?: string): Extract<ProgressEvent, { event: 'summary' }>;
  readonly phases: readonly PhaseResult[];
}

export interface ProgressOptions {
  /** E.g. "deploy prod 0123456789ab → green". */
  title: string;
  mode?: LogFormat;
  color?: boolean;
  write?: (line: string) => void;
  /** Milliseconds; injected by tests. */
  now?: () => number;
}

export function createProgress(opts: ProgressOptions): Progress {
  const mode = opts.mode ?? defaultFormat();
  const format: FormatOptions = { mode, color: opts.color ?? (mode === 'pretty' && !process.env.NO_COLOR) };
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = opts.now ?? Date.now;
  const started = now();
  const phases: PhaseResult[] = [];
  let current: string | undefined;
  const emit = (e: ProgressEvent) => write(formatEvent(e, format));
  const time = () => new Date(now()).toISOString();
  const end = (r: PhaseResult) => {
    phases.push(r);
    emit({ event: 'phase-end', time: time(), ...r });
  };
  const inPhase = () => (current ? { id: current } : {});
  const step = (message: string) => emit({ event: 'step', time: time(), ...inPhase(), message });

  return {
    phases,
    async phase(id, title, work) {
      emit({ event: 'phase-start', time: time(), id, title });
      const t0 = now();
      let detail: string | undefined;
      const previous = current;
      current = id;
      try {
        const result = await work({ step, note: (d) => void (detail = d) });
        end({ id, title, status: 'ok', durationMs: now() - t0, ...(detail ? { detail } : {}) });
        return result;
      } catch (e) {
        end({ id, title, status: 'failed', durationMs: now() - t0, detail: describeError(e) });
        throw e;
      } finally {
        current = previous;
      }
    },
    skip(id, title, reason) {
      end({ id, title, status: 'skipped', durationMs: 0, detail: reason });
    },
    step,
    planned(s) {
      emit({ event: 'plan', time: time(), ...inPhase(), step: s });
    },
    summary(outcome, message) {
      const e = { event: 'summary' as const, time: time(), title: opts.title, outcome, durationMs: now() - started, ...(message ? { message } : {}), phases: [...phases] };
      emit(e);
      return e;
    },
  };
}
