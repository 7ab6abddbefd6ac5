import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { validate, type Color } from '../config/names';
import type { Workspace } from '../config/workspace';
import { VezaError } from '../log/errors';
import type { Logger } from '../log/logger';
import type { ProcessRunner } from '../ports/process';
import { writeFileAtomic } from '../util/atomic';
import { EDGE_DIR_VAR } from '../config/edge';
import { localEdgeDir } from './local-edge-host';
import { buildEdgeModel, loadEdgeInputs } from './model';
import { renderHaproxyConfig } from './render';
import { renderCertificateUnits } from './acme';
import { validateHaproxyConfig } from './validate';

/**
 * The cacheable `infra-edge` targets. `render` writes
 * dist/edge/<edge>/haproxy.cfg from the declarations alone — the active
 * colour is state, not an input, so every environment is rendered on its
 * declared default (blue) unless colours are passed explicitly. The live
 * config that bootstrap and switch write (.veza/edges/<edge>/ locally, the
 * edge container on Incus) comes from the same renderer with the recorded
 * colours, and differs from this file only in which servers start
 * `disabled` — a difference that cannot change validity. So `validate`
 * proving this file proves every colour combination of the live one.
 */
const RENDER_DIR = 'dist/edge';

export interface EdgeSelection {
  workspace: Workspace;
  /** One edge by name; or */
  edge?: string;
  /** the edge of this environment; neither: every edge in infra/edges. */
  env?: string;
}

function selectEdges(sel: EdgeSelection): readonly string[] {
  if (sel.edge) return [sel.workspace.edge(sel.edge).name];
  if (sel.env) return [sel.workspace.env(sel.env).edge];
  const all = sel.workspace.edgeNames;
  if (!all.length) throw new VezaError('no edge definitions in infra/edges', 'add infra/edges/<name>.yaml', 'BAD_CONFIG');
  return all;
}

export function renderedPath(workspaceRoot: string, edge: string): string {
  return join(workspaceRoot, RENDER_DIR, edge, 'haproxy.cfg');
}

/** "staging=green,prod=blue" → { staging: 'green', prod: 'blue' } */
export function parseColors(spec: string | undefined): Record<string, Color> {
  const out: Record<string, Color> = {};
  for (const part of (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [env, color, extra] = part.split('=');
    if (extra !== undefined || !env || !color) throw new VezaError(`invalid colour assignment ${JSON.stringify(part)}`, 'write env=colour pairs separated by commas, e.g. staging=green,prod=blue', 'INVALID_INPUT');
    out[validate.env(env)] = validate.color(color);
  }
  return out;
}

/** Renders every edge: the output is the whole of dist/edge, so a cached result never leaves a stale file beside it. */
export async function renderEdgeFiles(sel: { workspace: Workspace; colors?: Record<string, Color>; log: Logger }): Promise<string[]> {
  const files: string[] = [];
  for (const edge of selectEdges({ workspace: sel.workspace })) {
    const inputs = loadEdgeInputs(sel.workspace, edge);
    const served = new Set<string>(inputs.envs.map((e) => e.name));
    const colors = Object.fromEntries(Object.entries(sel.colors ?? {}).filter(([env]) => served.has(env)));
    const file = renderedPath(sel.workspace.root, edge);
    await writeFileAtomic(file, renderHaproxyConfig(buildEdgeModel(inputs, colors)));
    sel.log.info(`rendered ${edge} → ${join(RENDER_DIR, edge, 'haproxy.cfg')}`);
    files.push(file);
    if (inputs.def.acme) {
      // The daily renewal job runs the certificates target from this checkout, with this machine's npx.
      const units = renderCertificateUnits({ edge, workspaceRoot: sel.workspace.root, npx: join(dirname(process.execPath), 'npx') });
      for (const [ext, text] of [['service', units.service], ['timer', units.timer]] as const) {
        const unit = join(sel.workspace.root, RENDER_DIR, edge, `${units.name}.${ext}`);
        await writeFileAtomic(unit, text);
        files.push(unit);
      }
      sel.log.info(`rendered ${edge}'s daily certificate renewal → ${join(RENDER_DIR, edge, `${units.name}.{service,timer}`)}`);
    }
  }
  return files;
}

export async function validateEdgeFiles(sel: EdgeSelection & { runner: ProcessRunner; log: Logger }): Promise<void> {
  for (const edge of selectEdges(sel)) {
    const rel = join(RENDER_DIR, edge, 'haproxy.cfg');
    const text = await fs.readFile(renderedPath(sel.workspace.root, edge), 'utf8').catch(() => {
      throw new VezaError(`${rel} does not exist`, 'run nx run infra-edge:render first (validate depends on it)', 'EDGE_NOT_RENDERED');
    });
    // The local edge's socket directory only has to be named: haproxy -c creates no socket.
    const res = await validateHaproxyConfig(text, { runner: sel.runner, vars: { [EDGE_DIR_VAR]: localEdgeDir(sel.workspace.root, edge) }, label: rel });
    const standIns = res.substitutions.map((s) => `${s.original} (throwaway ${s.kind})`);
    sel.log.info(`haproxy -c accepts ${rel}${standIns.length ? `, with ${standIns.join(', ')}` : ''}`);
  }
}
