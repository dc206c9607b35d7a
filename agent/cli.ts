// The `adaptclip-edge` command line. Each sub-command lives in agent/commands/<name>.ts and registers itself here.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerBackupCommands } from './commands/backup.ts';
import { registerCameraCommands } from './commands/camera.ts';
import { registerPackCommands } from './commands/pack.ts';
import { registerInspectCommands } from './commands/inspect.ts';
import { registerBenchCommands } from './commands/bench.ts';
import { registerEvalCommands } from './commands/eval.ts';
import { registerRunCommands } from './commands/run.ts';
import { registerHashPasswordCommands } from './commands/hash-password.ts';
import { registerDoctorCommands } from './commands/doctor.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildCli(): Command {
  const program = new Command('adaptclip-edge')
    .description('AdaptCLIP visual anomaly detection at the line: cameras in, verdicts out over OPC UA and MQTT')
    .version(version)
    .showHelpAfterError();
  registerPackCommands(program);
  registerInspectCommands(program);
  registerBenchCommands(program);
  registerEvalCommands(program);
  registerRunCommands(program);
  registerBackupCommands(program);
  registerCameraCommands(program);
  registerHashPasswordCommands(program);
  registerDoctorCommands(program);
  return program;
}

try {
  await buildCli().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  console.error(`adaptclip-edge: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
