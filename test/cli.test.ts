import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

test('the CLI prints its version and help', async (t) => {
  const { stdout } = await run(process.execPath, ['agent/bin.js', '--version']);
  t.regex(stdout.trim(), /^\d+\.\d+\.\d+$/);
  const help = await run(process.execPath, ['agent/bin.js', '--help']);
  t.regex(help.stdout, /pack/);
});

test('an unknown sub-command fails with a non-zero exit and names it', async (t) => {
  const err = await t.throwsAsync(run(process.execPath, ['agent/bin.js', 'frobnicate']));
  t.truthy(err);
  t.regex(String((err as { stderr?: string }).stderr), /frobnicate/);
});
