/**
 * Why a file could not be read, in words (`no such file`, `permission denied`) instead of an
 * errno and a stack: spec problems name the field and the path, and this says what is wrong.
 */
export function readFailure(cause: unknown): string {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a directory, not a file";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return cause instanceof Error ? cause.message : String(cause);
}
