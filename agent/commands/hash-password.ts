// `adaptclip-edge hash-password`: the scrypt hash for a `passwordHash` (http.users and opcua.users alike). The
// password is read from standard input (piped, or typed with echo off), never from the command line, where it would
// land in the shell history and the process list.
import type { Command } from 'commander';
import { hashPassword } from '../../adapters/passwords.ts';

async function readPassword(): Promise<string> {
  const input = process.stdin;
  if (input.isTTY) {
    process.stderr.write('password (not shown): ');
    input.setRawMode(true);
  }
  let text = '';
  input.setEncoding('utf8');
  for await (const chunk of input as AsyncIterable<string>) {
    text += chunk;
    if (input.isTTY && /[\r\n\u0003\u0004]/.test(text)) break;
  }
  if (input.isTTY) {
    input.setRawMode(false);
    process.stderr.write('\n');
    if (text.includes('\u0003')) throw new Error('cancelled');
  }
  return text.replace(/[\r\n\u0004].*$/s, '');
}

export function registerHashPasswordCommands(program: Command): void {
  program
    .command('hash-password')
    .description('print the passwordHash for a password read from stdin (http.users[].passwordHash, opcua.users[].passwordHash)')
    .action(async () => {
      const password = await readPassword();
      if (password.length < 8) throw new Error('the password needs at least 8 characters');
      process.stdout.write(`${hashPassword(password)}\n`);
    });
}
