/** Runs an executor and keeps what it printed: its logger writes to stderr, as `nx run` shows it. */
export async function captureExecutor(run: () => Promise<{ success: boolean }>): Promise<{ success: boolean; out: string }> {
  const write = process.stderr.write;
  let out = '';
  process.stderr.write = ((chunk: string | Uint8Array) => ((out += String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { ...(await run()), out };
  } finally {
    process.stderr.write = write;
  }
}
