/**
 * Redis server CPU per message: `INFO cpu` (user + sys, every thread of the server) read before
 * and after a scenario, the delta divided by the scenario's messages. The bench's redis-server is
 * private and scenarios run one at a time, so the delta is that scenario's (plus the server's own
 * idle housekeeping, a few ms per second).
 */
import { Redis } from "ioredis";

export interface RedisCpuProbe {
  /** Server CPU seconds (user + sys) so far. */
  read(): Promise<number>;
  close(): void;
}

export function redisCpuProbe(url: string): RedisCpuProbe {
  const client = new Redis(url);
  return {
    async read() {
      const info = await client.info("cpu");
      const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? Number.NaN);
      return field("used_cpu_user") + field("used_cpu_sys");
    },
    close: () => client.disconnect(),
  };
}
