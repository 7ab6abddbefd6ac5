'use strict';
/**
 * The local driver's stand-in for systemd's Restart=on-failure: runs one
 * command, restarts it with backoff when it dies, forwards SIGTERM to it and
 * exits once it has stopped. Plain JavaScript so it starts with bare `node`,
 * independent of the workspace's TypeScript loader.
 *
 * Usage: node supervisor.js <child-identity-file> -- <command> [args...]
 * cwd, environment and stdout/stderr (the slot log) are inherited by the command.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10_000;
/** A child that ran this long was healthy: its next crash restarts quickly again. */
const STABLE_MS = 10_000;

const [childFile, dashes, file, ...args] = process.argv.slice(2);
if (!childFile || dashes !== '--' || !file) {
  process.stderr.write('usage: supervisor.js <child-identity-file> -- <command> [args...]\n');
  process.exit(2);
}

let child = null;
let stopping = false;
let backoffMs = MIN_BACKOFF_MS;
let restartTimer = null;

function say(msg) {
  process.stdout.write(`[veza-supervisor ${new Date().toISOString()}] ${msg}\n`);
}

/** Same reading as proc.ts identify(): the driver compares these fields to tell our child from a reused pid. */
function identity(pid) {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return { pid, startTime: rest[19], bootId };
}

function recordChild(pid) {
  const tmp = `${childFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(identity(pid)) + '\n', { mode: 0o644 });
  fs.renameSync(tmp, childFile);
}

function forgetChild() {
  fs.rmSync(childFile, { force: true });
}

function run() {
  restartTimer = null;
  const startedAt = Date.now();
  say(`starting ${JSON.stringify([file, ...args])}`);
  const c = spawn(file, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  child = c;
  if (c.pid !== undefined) {
    try {
      recordChild(c.pid);
    } catch (e) {
      say(`cannot record the child's identity: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  let done = false;
  const onEnd = (why) => {
    if (done) return;
    done = true;
    child = null;
    forgetChild();
    if (stopping) {
      say(`stopped (${why})`);
      process.exit(0);
    }
    if (Date.now() - startedAt >= STABLE_MS) backoffMs = MIN_BACKOFF_MS;
    say(`${why}; restarting in ${backoffMs} ms`);
    restartTimer = setTimeout(run, backoffMs);
    backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
  };
  c.on('error', (e) => onEnd(`could not start: ${e.message}`));
  c.on('exit', (code, signal) => onEnd(signal ? `exited on ${signal}` : `exited with code ${code}`));
}

function stop(signal) {
  if (stopping) return;
  stopping = true;
  if (restartTimer) {
    clearTimeout(restartTimer);
    say(`stopped (${signal} while waiting to restart)`);
    process.exit(0);
  }
  if (child) {
    say(`${signal}: stopping the command`);
    // The whole process group, so a wrapper script's own children stop too; we ignore our copy.
    try {
      process.kill(-process.pid, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
  }
}

process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
// Detached from any terminal: a hang-up means nothing to a slot.
process.on('SIGHUP', () => {});
run();
