// `adaptclip-edge doctor`: what the agent would run on and why (CPU features, ONNX Runtime providers and their
// libraries, CUDA / cuDNN / TensorRT, driver and GPUs); with --pack, which providers open that pack. Starts no daemon.
import type { Command } from 'commander';
import { doctor, formatDoctor } from '../../models/doctor.ts';

export function registerDoctorCommands(program: Command): void {
  program
    .command('doctor')
    .description('print what the agent will run on and why (providers, CUDA/cuDNN, driver, GPU memory, CPU features) without starting it')
    .option('--pack <dir>', 'also try each execution provider on this pack')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { pack?: string; json?: boolean }) => {
      const report = await doctor(opts.pack ? { pack: opts.pack } : {});
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report));
    });
}
