import { slotName, type SlotRole } from '../hosts/naming';
import { VezaError } from '../log/errors';
import { openContext, type CommonOptions } from './context';
import { readActiveColor } from '../state/history';

/**
 * `veza logs <component> [--color=C]`: the command that shows a slot's logs
 * (its last 200 lines, then what follows with `follow`), for the caller to
 * run with the terminal attached. The colour defaults to the one serving.
 */
export interface LogsOptions extends CommonOptions {
  component: string;
  /** blue, green or tools; default: the active colour. */
  color?: string;
  follow?: boolean;
}

export async function logsCommand(o: LogsOptions): Promise<string[]> {
  if (o.color !== undefined && !/^(blue|green|tools)$/.test(o.color)) {
    throw new VezaError(`invalid --color ${JSON.stringify(o.color)}`, 'use --color=blue, --color=green or --color=tools (migrations); without it, the colour serving', 'INVALID_INPUT');
  }
  const ctx = await openContext(o, (env) => `logs ${env.name}`);
  const component = ctx.components.find((c) => c.name === o.component);
  if (!component) {
    throw new VezaError(`${ctx.env.name} has no component ${JSON.stringify(o.component)}`, `name one of: ${ctx.components.map((c) => c.name).join(', ')}`, 'INVALID_INPUT');
  }
  const role = (o.color ?? (await readActiveColor(ctx.ports.store, ctx.env.name))) as SlotRole;
  return ctx.ports.driver.logsCommand(slotName(ctx.env, component.name, role), { follow: o.follow });
}
