/**
 * `mmim trial cancel ID`: lone trials (`mmim train --workers K`, POST /api/trials) over the
 * coordinator's JSON API. A sweep's trials end with their sweep (`mmim sweep cancel`).
 */
import type { Command } from 'commander';
import { ApiClient, resolveApiTarget } from '../cluster/api-client.js';
import type { ApiFlags } from './sweep.js';

export async function trialCancel(id: string, flags: ApiFlags): Promise<void> {
  const target = resolveApiTarget(flags, process.env);
  const { trial } = await new ApiClient(target.url, target.adminToken).cancelTrial(id);
  process.stdout.write(
    flags.json ? `${JSON.stringify(trial)}\n` : `trial ${trial.id}: ${trial.state}\n`,
  );
}

/** Adds `mmim trial ...`; `apiOptions` adds the flags every API command takes. */
export function registerTrialCommands(program: Command, apiOptions: (c: Command) => Command): void {
  const trial = program
    .command('trial')
    .description('lone trials on a coordinator (a local one from `mmim up` by default)');
  apiOptions(
    trial
      .command('cancel')
      .description('cancel a queued or running lone trial (admin token)')
      .argument('<id>'),
  ).action((id: string, o: ApiFlags) => trialCancel(id, o));
}
