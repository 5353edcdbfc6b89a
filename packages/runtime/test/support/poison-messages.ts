/** The messages of the poison tests: valid orders, and poison of every kind with the reason it must get. */
import type { Message } from "@weir/actors";

const encoder = new TextEncoder();

export function message(id: string, value: string | Uint8Array): Message {
  return { id, keys: [], value: typeof value === "string" ? encoder.encode(value) : value, eventTime: 1_700_000_000_000, headers: {} };
}

export const MAX_MESSAGE_SIZE = 200;
const oversizedValue = JSON.stringify({ user: "x".repeat(300), amount: 1 });
export const oversizedReason = `oversized: ${encoder.encode(oversizedValue).length} bytes > maxMessageSize ${MAX_MESSAGE_SIZE}`;
export const valid = Array.from({ length: 60 }, (_, i) => message(`ok-${i}`, JSON.stringify({ user: `user-${i}`, amount: i + 1 })));
/** Each poison message, and what its fallback reason must say (the zod and the JSON Schema wording). */
export const poison: ReadonlyArray<{ readonly message: Message; readonly zod: RegExp; readonly jsonSchema: RegExp }> = [
  {
    message: message("bad-amount", '{"user":"bob","amount":"three"}'),
    zod: /^invalid message: \/amount: Invalid input: expected number, received string$/,
    jsonSchema: /^invalid message: \/amount: must be number$/,
  },
  {
    message: message("no-user", '{"amount":5}'),
    zod: /^invalid message: \/user: Invalid input: expected string, received undefined$/,
    jsonSchema: /^invalid message: \(root\): must have required property 'user'$/,
  },
  {
    message: message("negative", '{"user":"eve","amount":-1}'),
    zod: /^invalid message: \/amount: Too small: expected number to be >0$/,
    jsonSchema: /^invalid message: \/amount: must be > 0$/,
  },
  {
    message: message("not-json", "user=mallory amount=1"),
    zod: /^invalid message: the value is not JSON \(Unexpected token .*\)$/,
    jsonSchema: /^invalid message: the value is not JSON \(Unexpected token .*\)$/,
  },
  {
    message: message("bad-utf8", new Uint8Array([0x7b, 0x22, 0x75, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
    zod: /^invalid message: the value is not valid UTF-8$/,
    jsonSchema: /^invalid message: the value is not valid UTF-8$/,
  },
  {
    message: message("oversized", oversizedValue),
    zod: new RegExp(`^${oversizedReason}$`),
    jsonSchema: new RegExp(`^${oversizedReason}$`),
  },
];
export const poisonIds = new Set(poison.map((entry) => entry.message.id));
export const validIds = new Set(valid.map((entry) => entry.id));

/** The valid messages with the poison spread among them. */
export function mixed(): Message[] {
  const all = [...valid];
  poison.forEach((entry, i) => all.splice(i * 9 + 3, 0, entry.message));
  return all;
}

