import { connect } from 'node:net';
import { VezaError } from '../log/errors';

/**
 * HAProxy's Runtime API (and master CLI) over a unix socket: one connection
 * per request, the request half-closed so HAProxy answers and hangs up.
 */
export async function cliRequest(socketPath: string, line: string, timeoutMs = 5_000): Promise<string> {
  checkCliRequest(line);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new VezaError(`HAProxy did not answer on ${socketPath} within ${timeoutMs} ms`, 'check that the edge runs (infra-edge:bootstrap) and is not overloaded', 'EDGE_RUNTIME'));
    }, timeoutMs);
    sock.on('connect', () => sock.end(line + '\n'));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new VezaError(`cannot reach HAProxy on ${socketPath}: ${e.code ?? e.message}`, 'start the edge with nx run infra-edge:bootstrap', 'EDGE_RUNTIME'));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/**
 * A request is one line, or a command ending in ` <<` followed by its
 * payload (`set ssl cert <file> <<` and the PEM), which HAProxy reads up to
 * the first empty line — so the payload itself must hold none.
 */
export function checkCliRequest(text: string): void {
  const [first, ...rest] = text.split('\n');
  if (rest.at(-1) === '') rest.pop();
  const ok = !text.includes('\r') && (rest.length === 0 || (first!.endsWith(' <<') && rest.every((l) => l.trim() !== '')));
  if (!ok) throw new VezaError('a runtime API request must be one line, or a command ending in "<<" and a payload without empty lines', 'this is a bug in the caller', 'INVALID_INPUT');
}

/** `<command> <<` and its payload, as checkCliRequest accepts it. */
export function withPayload(command: string, payload: string): string {
  return `${command} <<\n${payload.trim()}\n`;
}

/** Server admin-state bits (`show servers state`): forced maintenance and forced drain. */
const ADMIN_FORCED_MAINT = 0x01;
const ADMIN_FORCED_DRAIN = 0x08;

export interface ServerRuntimeState {
  backend: string;
  server: string;
  /** 0 stopped, 1 starting, 2 running, 3 stopping. */
  opState: number;
  adminState: number;
  maint: boolean;
  drain: boolean;
}

/** Parses `show servers state` (format version 1). */
export function parseServersState(text: string): ServerRuntimeState[] {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines[0] !== '1') throw new VezaError(`unexpected "show servers state" answer: ${lines[0]?.slice(0, 80) ?? '(empty)'}`, 'check the HAProxy version (2.6 expected)', 'EDGE_RUNTIME');
  return lines.slice(1).filter((l) => !l.startsWith('#')).map((l) => {
    const f = l.split(/\s+/);
    const admin = Number(f[6]);
    return { backend: f[1]!, server: f[3]!, opState: Number(f[5]), adminState: admin, maint: (admin & ADMIN_FORCED_MAINT) !== 0, drain: (admin & ADMIN_FORCED_DRAIN) !== 0 };
  });
}

/** What a server answered so far (`show stat`): every HTTP answer, and the failed ones — 5xx, broken responses, refused connections. */
export interface ServerTraffic {
  responses: number;
  errors: number;
}

/** `show stat` (CSV) as rows of fields, with a lookup of its columns by name; `need` columns missing are a refused answer. */
function statTable(csv: string, need: readonly string[]): { col: (name: string) => number; rows: string[][] } {
  const lines = csv.split('\n').filter(Boolean);
  const head = lines[0]?.replace(/^# /, '').split(',') ?? [];
  const col = (name: string) => head.indexOf(name);
  const missing = need.filter((n) => col(n) < 0);
  if (missing.length) throw new VezaError(`unexpected "show stat" answer: no ${missing.join(', ')} column`, 'check the HAProxy version (2.6 expected)', 'EDGE_RUNTIME');
  return { col, rows: lines.slice(1).map((l) => l.split(',')) };
}

const HTTP_ANSWERS = ['hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other'];

/** `backend/server` → its traffic counters, from `show stat` (CSV); counters only grow while the worker lives. */
export function parseServerTraffic(csv: string): Map<string, ServerTraffic> {
  const { col, rows } = statTable(csv, ['pxname', 'svname', ...HTTP_ANSWERS, 'eresp', 'econ']);
  const answers = HTTP_ANSWERS.map(col);
  const failures = [col('hrsp_5xx'), col('eresp'), col('econ')];
  const [px, sv] = [col('pxname'), col('svname')];
  const sum = (f: string[], cols: number[]) => cols.reduce((n, i) => n + Number(f[i] || 0), 0);
  const out = new Map<string, ServerTraffic>();
  for (const f of rows) {
    if (f[sv] === 'FRONTEND' || f[sv] === 'BACKEND') continue;
    // eresp and econ are failures with no HTTP answer behind them: count them as answers too, so the ratio stays ≤ 1.
    out.set(`${f[px]}/${f[sv]}`, { responses: sum(f, answers) + Number(f[col('eresp')] || 0) + Number(f[col('econ')] || 0), errors: sum(f, failures) });
  }
  return out;
}

/** Current sessions per `backend/server` from `show stat` (CSV). */
export function parseCurrentSessions(csv: string): Map<string, number> {
  const { col, rows } = statTable(csv, ['pxname', 'svname', 'scur']);
  const [px, sv, scur] = [col('pxname'), col('svname'), col('scur')];
  return new Map(rows.map((f) => [`${f[px]}/${f[sv]}`, Number(f[scur] || 0)]));
}

/** How the edge sees one server: its state, its last health check, the address it sends to. */
export interface ServerCheck {
  /** UP, DOWN, MAINT, "DOWN 1/2"…, as HAProxy prints it. */
  status: string;
  /** The last check's result (L4OK, L4TOUT, L7STS…) and its code when it has one. */
  check: string;
  /** The address the server resolved to (`ip:port`); empty while a name has not resolved. */
  addr: string;
}

/** `backend/server` → its state, last check and address, from `show stat` (CSV). */
export function parseServerChecks(csv: string): Map<string, ServerCheck> {
  const { col, rows } = statTable(csv, ['pxname', 'svname', 'status', 'check_status', 'check_code', 'addr']);
  const out = new Map<string, ServerCheck>();
  for (const f of rows) {
    const sv = f[col('svname')]!;
    if (sv === 'FRONTEND' || sv === 'BACKEND') continue;
    const [checkStatus, code] = [f[col('check_status')] ?? '', f[col('check_code')] ?? ''];
    out.set(`${f[col('pxname')]}/${sv}`, { status: f[col('status')] ?? '', check: code ? `${checkStatus} ${code}` : checkStatus, addr: f[col('addr')] ?? '' });
  }
  return out;
}

/** One server as a failure message names it: `blue DOWN (last check L4TOUT) at 10.0.0.5:8080`. */
export function describeServerCheck(server: string, c: ServerCheck): string {
  return `${server} ${c.status || 'unknown'}${c.check ? ` (last check ${c.check})` : ''}${c.addr ? ` at ${c.addr}` : ' (its name has no address yet)'}`;
}

export interface MasterProcInfo {
  masterPid: number;
  reloads: number;
  failedReloads: number;
  /** Workers of the current generation first; HAProxy lists old (leaving) workers after them. */
  workers: { pid: number; reloads: number }[];
}

/** Parses the master CLI's `show proc`. */
export function parseShowProc(text: string): MasterProcInfo {
  let master: MasterProcInfo | undefined;
  const workers: { pid: number; reloads: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]/.exec(line);
    if (m) master = { masterPid: Number(m[1]), reloads: Number(m[2]), failedReloads: Number(m[3]), workers };
    const w = /^(\d+)\s+worker\s+(\d+)/.exec(line);
    if (w) workers.push({ pid: Number(w[1]), reloads: Number(w[2]) });
  }
  if (!master) throw new VezaError(`unexpected "show proc" answer: ${text.slice(0, 80)}`, 'check that the socket is the HAProxy master socket', 'EDGE_RUNTIME');
  return master;
}

/** Runtime API answers that mean a command was refused (success prints nothing for `set server`). */
export function runtimeErrors(output: string): string[] {
  return output.split('\n').map((l) => l.trim()).filter((l) => l && !/^\d+$/.test(l));
}
