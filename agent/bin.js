#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript run through tsx, so an installed package needs no build step.
import { register } from 'tsx/esm/api';
register();
await import('./cli.ts');
