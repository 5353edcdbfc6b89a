import { z } from "zod";

/** The accepted forms, quoted in every error about a duration. */
export const DURATION_FORMS = 'a duration such as "100ms", "1.5s" or "2m", or a number of milliseconds';

// Units are kept to ms/s/m (DESIGN §4): hours have no use in batch timeouts, and a bare
// "100" string is rejected because it is ambiguous between ms and s.
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m)$/;
const MS_PER_UNIT: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000 };

/**
 * Milliseconds in a duration text such as `"100ms"`, `"1.5s"` or `"2m"`; `undefined` when the
 * text is not one.
 *
 * @example
 * ```ts
 * parseDuration("1.5s"); // 1500
 * parseDuration("1h");   // undefined
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (match === null) return undefined;
  const [, amount, unit] = match;
  const perUnit = unit === undefined ? undefined : MS_PER_UNIT[unit];
  if (amount === undefined || perUnit === undefined) return undefined;
  return Number(amount) * perUnit;
}

/**
 * A duration field: input `"100ms" | "1.5s" | "2m" | <ms>`, output milliseconds.
 * Defaults on duration fields are given in milliseconds, the output type.
 */
export const durationSchema = z
  .union(
    [
      z.number().nonnegative(),
      // The pattern also lands in the JSON Schema, so editors flag bad text as it is typed.
      z.string().regex(DURATION_PATTERN, { error: `expected ${DURATION_FORMS}` }),
    ],
    { error: `expected ${DURATION_FORMS}` },
  )
  .transform((value, ctx) => {
    if (typeof value === "number") return value;
    const ms = parseDuration(value);
    if (ms !== undefined) return ms;
    ctx.issues.push({ code: "custom", input: value, message: `expected ${DURATION_FORMS}` });
    return z.NEVER;
  })
  .describe(DURATION_FORMS);

export type DurationInput = z.input<typeof durationSchema>;
