import { z } from 'zod';
import { envOption } from '../../executors/src/option-schema';

/** `veza logs`: a terminal command only (it attaches the slot's log to yours), so it has no Nx executor. */
export const schema = z.strictObject({
  env: envOption().default('local'),
  component: z.string().describe('The component whose slot to read (apps/<component>).'),
  color: z.enum(['blue', 'green', 'tools']).describe('Which slot: blue, green, or tools (migrations). Default: the colour serving.').optional(),
  follow: z.boolean().describe('Keep printing what the slot logs after its last 200 lines, until interrupted.').default(false),
});
