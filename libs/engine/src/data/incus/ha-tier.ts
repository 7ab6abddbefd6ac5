import { withPrimaryUnanswered } from '../ha/formation';
import type { HaStatus } from '../ha/operations';
import { memberOf, poolsOnIncus, readFormationOnIncus, takesWrites, type IncusPgHa } from './pg-ha';
import { IncusDataTier } from './tier';

/**
 * The Incus data tier in the HA topology: provisioning is the Incus tier's
 * own (pg-ha.ts plans the formation), and `infra-data:status` reads the
 * formation from the monitor and PgBouncer's pools, each from inside its
 * container. pgBackRest is not provisioned on Incus yet: no backups to show.
 */
export class IncusHaTier extends IncusDataTier {
  async status(): Promise<HaStatus> {
    const h = this.pgHa() as IncusPgHa;
    const read = await readFormationOnIncus(this.client, h);
    const primary = memberOf(h, read?.formation.primary);
    // The monitor names a crashed primary healthy until its health checks give up on it: the primary itself is asked.
    const formation = read && primary && !(await takesWrites(this.client, primary)) ? withPrimaryUnanswered(read.formation) : read?.formation;
    return { formation, pools: await poolsOnIncus(this.client, h).catch(() => []), backups: [] };
  }
}
