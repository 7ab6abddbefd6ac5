import { VezaError } from '../../log/errors';
import { withPrimaryUnanswered } from '../ha/formation';
import type { HaStatus } from '../ha/operations';
import type { PoolRow } from '../ha/pgbouncer';
import { applyPlan } from '../plan';
import { formationSettledOnIncus, memberOf, poolsOnIncus, readFormationOnIncus, switchoverCommand, takesWrites, type IncusPgHa } from './pg-ha';
import { IncusDataTier } from './tier';

/**
 * The Incus data tier in the HA topology: provisioning is the Incus tier's
 * own (pg-ha.ts plans the formation), and `infra-data:status` reads the
 * formation from the monitor and PgBouncer's pools, each from inside its
 * container, and `infra-data:failover` switches over through the monitor.
 * pgBackRest is not provisioned on Incus yet: no backups to show.
 */
export class IncusHaTier extends IncusDataTier {
  private get h(): IncusPgHa {
    return this.pgHa()!;
  }

  async status(): Promise<HaStatus> {
    const read = await readFormationOnIncus(this.client, this.h);
    const primary = memberOf(this.h, read?.formation.primary);
    // The monitor names a crashed primary healthy until its health checks give up on it: the primary itself is asked.
    const formation = read && primary && !(await takesWrites(this.client, primary)) ? withPrimaryUnanswered(read.formation) : read?.formation;
    return { formation, pools: await this.pools().catch(() => []), backups: [] };
  }

  /** SHOW POOLS on PgBouncer's admin console. */
  pools(): Promise<PoolRow[]> {
    return poolsOnIncus(this.client, this.h);
  }

  /** Planned switchover (`pg_autoctl perform switchover` in the monitor's container); resolves once the formation settled on the new primary. */
  async switchover(): Promise<string> {
    const read = await readFormationOnIncus(this.client, this.h);
    const before = read?.formation.primary?.name;
    if (!read?.formation.healthy || !before) {
      throw new VezaError(`the HA formation of ${this.env.name} is not healthy: ${read ? read.formation.problems.join('; ') : 'the monitor does not answer'}`,
        `run: npx nx run infra-data:status --env=${this.env.name}, then infra-data:provision to start what is stopped`, 'FORMATION_UNHEALTHY');
    }
    await this.client.run(switchoverCommand(this.client, this.h));
    await applyPlan({ steps: [{ kind: 'wait', title: 'wait for the formation to settle', what: 'the formation has a new primary, taking writes, and every other node is a secondary', timeoutMs: 180_000, intervalMs: 1_000,
      check: async () => (await formationSettledOnIncus(this.client, this.h)) && (await readFormationOnIncus(this.client, this.h))?.formation.primary?.name !== before }], notes: [], summary: `switchover of ${this.env.name} done` }, this.client.runner, this.log);
    const after = (await readFormationOnIncus(this.client, this.h))!.formation.primary!.name;
    this.log.info(`primary of ${this.env.name}: ${before} -> ${after}`);
    return after;
  }
}
