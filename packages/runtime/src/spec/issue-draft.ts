import type { z } from "zod";

/** An issue found by a cross-field rule, before zod prefixes its path. */
export interface IssueDraft {
  readonly path: readonly (string | number)[];
  readonly message: string;
  readonly hint?: string;
}

type RefinementCtx = z.core.$RefinementCtx<unknown>;

/**
 * Reports drafts as zod custom issues. The hint rides in `params`, the one field zod copies
 * from a custom issue to the final one, so the loader can show it apart from the message.
 */
export function reportDrafts(ctx: RefinementCtx, drafts: readonly IssueDraft[]): void {
  for (const draft of drafts) {
    ctx.addIssue({
      code: "custom",
      input: undefined,
      path: [...draft.path],
      message: draft.message,
      continue: true,
      ...(draft.hint === undefined ? {} : { params: { hint: draft.hint } }),
    });
  }
}

/**
 * Cross-field rules run even when fields have errors, so a user sees every problem at once;
 * they read their input as `unknown` because it may be only partly valid.
 */
export const ALWAYS = { when: () => true } as const;

export function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
