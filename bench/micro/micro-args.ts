/** The Redis micro benchmarks' command line: `--name value` options and the required `--redis-url`. */

/** The value after `--<name>`, or `fallback`. */
export function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? fallback : (process.argv[at + 1] as string);
}

/** `--redis-url`: required, so a micro never runs against the shared Redis on 6379 by default. */
export function redisUrl(): string {
  const url = arg("redis-url", "");
  if (url === "") throw new Error("--redis-url redis://127.0.0.1:<port> is required (never the shared 6379)");
  return url;
}
