// `adaptclip-edge pack …`: model-pack tooling. The exporter is Python (torch + onnx from Debian); this forwards to it.
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PYTHON = process.env.ADAPTCLIP_PYTHON ?? '/usr/bin/python3';
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `python3 -m models.export ARGS` (or another module of it) from the repository root, inheriting stdio;
 *  resolves to its exit code. */
export function runExporter(args: string[], module = 'models.export'): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-m', module, ...args], { cwd: REPO_ROOT, stdio: 'inherit' });
    child.on('error', (err) => reject(new Error(`cannot start the exporter with ${PYTHON}: ${err.message}; install python3-torch and python3-onnx (apt)`)));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

export function registerPackCommands(program: Command): void {
  const pack = program.command('pack').description('model packs: export from official checkpoints, tiny test packs');
  pack
    .command('export')
    .description('run the Python exporter (python3 -m models.export); all options are passed through, see --help')
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .argument('[args...]')
    .action(async (args: string[]) => {
      process.exitCode = await runExporter(args);
    });
  pack
    .command('convert')
    .description('an fp32 pack to int8 (CPU) or fp16 (GPU), checked against the fp32 pack before it is written (python3 -m models.export.convert; see --help)')
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .argument('[args...]')
    .action(async (args: string[]) => {
      process.exitCode = await runExporter(args, 'models.export.convert');
    });
}
