// MQTT command channel (adapters/README.md "MQTT commands"): `P/<station>/cmd/<name>` with a JSON body, answered with an
// `adaptclip.reply/1` payload. This module validates and runs one command; the sink owns topics and MQTT v5 properties.
import { z } from 'zod';
import { COMMAND_REJECT, METHOD_RESULT, MQTT_SCHEMA, PART_ID_MAX_LENGTH, RECIPE_STATUS } from '../protocol.ts';
import type { SinkCommands, StationStatus } from '../types.ts';

export const REPLY_SCHEMA = MQTT_SCHEMA.reply;

/** The PROTOCOLS.md codes a command answers with, and below them (COMMAND_REJECT) problems with the request itself. */
export const COMMAND_CODES = {
  ok: METHOD_RESULT.ok, notReady: METHOD_RESULT.notReady, unknownRecipe: RECIPE_STATUS.unknownRecipe, modelError: RECIPE_STATUS.modelError,
  ...COMMAND_REJECT,
} as const;
const INT32 = { min: -2147483648, max: 2147483647 };

const bodies = {
  trigger: z.strictObject({ partId: z.string().max(PART_ID_MAX_LENGTH, `partId must be at most ${PART_ID_MAX_LENGTH} characters`).default('') }),
  selectRecipe: z.strictObject({ recipeId: z.number().int().min(INT32.min).max(INT32.max) }),
  resetError: z.strictObject({}),
  resetCounters: z.strictObject({}),
};
export type CommandName = keyof typeof bodies;
export const COMMAND_NAMES = Object.keys(bodies) as CommandName[];

export interface Reply {
  schema: typeof REPLY_SCHEMA;
  command: string;
  stationId: string;
  error: number;
  text: string;
  ts: string;
  [extra: string]: unknown;
}

export interface CommandContext {
  commands: SinkCommands;
  /** Stations this agent runs; a command for another one is refused. */
  stations: () => string[];
  /** Last status the daemon published for a station (readiness check before a trigger, like OPC UA rule 1). */
  status: (stationId: string) => StationStatus | undefined;
}

const reply = (command: string, stationId: string, error: number, text: string, extra: Record<string, unknown> = {}): Reply =>
  ({ schema: REPLY_SCHEMA, command, stationId, error, text, ...extra, ts: new Date().toISOString() });

function describeIssues(err: z.ZodError): string {
  return err.issues
    .map((i) => (i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}` : `${i.path.join('.') || 'body'}: ${i.message}`))
    .join('; ');
}

/** Runs one command message. Never throws: every problem becomes an error reply and nothing is changed. */
export async function runCommand(ctx: CommandContext, stationId: string, name: string, payload: Buffer, retained: boolean): Promise<Reply> {
  if (retained) {
    return reply(name, stationId, COMMAND_CODES.retained, 'retained command ignored (a stale command must never run after a reconnect); publish commands with retain=false');
  }
  if (!(COMMAND_NAMES as string[]).includes(name)) {
    return reply(name, stationId, COMMAND_CODES.unknownCommand, `unknown command "${name}"; use one of ${COMMAND_NAMES.join(', ')}`);
  }
  const known = ctx.stations();
  if (!known.includes(stationId)) {
    return reply(name, stationId, COMMAND_CODES.unknownStation, `unknown station "${stationId}"; this agent runs ${known.join(', ') || 'no stations'}`);
  }
  let json: unknown = {};
  const text = payload.toString('utf8').trim();
  if (text) {
    try {
      json = JSON.parse(text);
    } catch (err) {
      return reply(name, stationId, COMMAND_CODES.badRequest, `payload is not valid JSON (${(err as Error).message}); send a JSON object such as ${example(name as CommandName)}`);
    }
  }
  const parsed = bodies[name as CommandName].safeParse(json);
  if (!parsed.success) {
    return reply(name, stationId, COMMAND_CODES.badRequest, `${name}: ${describeIssues(parsed.error)}; send a JSON object such as ${example(name as CommandName)}`);
  }
  try {
    return await execute(ctx, stationId, name as CommandName, parsed.data as Record<string, unknown>);
  } catch (err) {
    return reply(name, stationId, COMMAND_CODES.failed, `${name} failed: ${(err as Error).message}`);
  }
}

function example(name: CommandName): string {
  return name === 'trigger' ? '{"partId":"P-1"}' : name === 'selectRecipe' ? '{"recipeId":12}' : '{}';
}

async function execute(ctx: CommandContext, stationId: string, name: CommandName, body: Record<string, unknown>): Promise<Reply> {
  const { commands } = ctx;
  switch (name) {
    case 'trigger': {
      const partId = body.partId as string;
      const s = ctx.status(stationId);
      if (s && !s.ready) {
        return reply(name, stationId, COMMAND_CODES.notReady, `station ${stationId} is not ready (${s.state}${s.errorText ? `: ${s.errorText}` : ''}); nothing was triggered`, { partId });
      }
      // triggerSeq 0: not a PLC trigger; the station numbers it itself (as for HTTP triggers).
      const code = await commands.trigger(stationId, partId, 0);
      const text = code === 0 ? 'trigger accepted; the verdict follows on the verdict topic with this partId'
        : `trigger refused (${code}): the station is not ready or its camera is not software-triggered (set trigger: software in its config)`;
      return reply(name, stationId, code, text, { partId });
    }
    case 'selectRecipe': {
      const recipeId = body.recipeId as number;
      const code = await commands.selectRecipe(stationId, recipeId);
      const text = code === 0 ? `recipe ${recipeId} active`
        : code === COMMAND_CODES.unknownRecipe ? `unknown recipe ${recipeId}: no product has this recipe id; create one or use another id`
          : `recipe ${recipeId} could not be prepared (${code}); see the agent log`;
      return reply(name, stationId, code, text, { recipeId });
    }
    case 'resetError': {
      const code = await commands.resetError(stationId);
      return reply(name, stationId, code, code === 0 ? 'latched error cleared' : `resetError refused (${code})`);
    }
    case 'resetCounters': {
      const code = await commands.resetCounters(stationId, 'mqtt');
      return reply(name, stationId, code, code === 0 ? 'counters reset' : `resetCounters refused (${code})`);
    }
  }
}
