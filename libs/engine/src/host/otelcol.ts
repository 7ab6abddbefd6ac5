import { stringify } from 'yaml';
import type { Command } from '../ports/process';

/**
 * The OpenTelemetry collector's configuration (seed 84e92a75e2): veza-otelcol
 * (tools/otelcol, built by tools/scripts/otelcol-build.sh) receives OTLP on
 * the address the environment's observability.otlpEndpoint names, batches,
 * and appends every batch as an OTLP/JSON line to the span file (its
 * `spanfile` exporter) while logging a summary (the core debug exporter).
 * Its own telemetry is off: it would otherwise listen on :8888 of every
 * interface.
 */
export interface CollectorConfigInput {
  /** The OTLP/HTTP base URL the apps send to: the collector listens on its host and port. */
  otlpEndpoint: string;
  /** Where the received spans are appended. */
  spanFile: string;
  /** What the receiver binds instead of the endpoint's own host:port (a container binds every address of its namespace). */
  listen?: string;
}

/**
 * host:port the receiver binds, from the endpoint URL (port defaulting to
 * the scheme's); the environment schema has already refused anything but
 * an http(s) URL, with its file:line.
 */
export function receiverAddress(otlpEndpoint: string): string {
  const url = new URL(otlpEndpoint);
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}

export function renderCollectorConfig(input: CollectorConfigInput): string {
  const config = {
    receivers: { otlp: { protocols: { http: { endpoint: input.listen ?? receiverAddress(input.otlpEndpoint) } } } },
    processors: { batch: { timeout: '1s' } },
    exporters: { spanfile: { path: input.spanFile }, debug: { verbosity: 'basic' } },
    service: {
      telemetry: { metrics: { level: 'none' } },
      pipelines: { traces: { receivers: ['otlp'], processors: ['batch'], exporters: ['spanfile', 'debug'] } },
    },
  };
  return `# Written by the Veza pipeline for ${input.otlpEndpoint}; edit libs/engine/src/host/otelcol.ts instead.\n${stringify(config)}`;
}

/** The collector's own check: it loads the file and builds every component without starting them. */
export function collectorValidate(binary: string, configFile: string): Command {
  return { argv: [binary, 'validate', `--config=${configFile}`], description: 'check the collector config', timeoutMs: 30_000 };
}

/** Running it: the configuration is a file, nothing is fetched. */
export function collectorRun(binary: string, configFile: string): Command {
  return { argv: [binary, `--config=${configFile}`], description: 'OpenTelemetry collector' };
}
