import { afterEach, describe, expect, it } from "vitest";
import { createOrdersService, type OrdersService } from "./orders-service.js";

let service: OrdersService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

const get = async (url: string) => (await fetch(url)).json() as Promise<Record<string, unknown>>;
const post = async (url: string, body?: unknown) =>
  fetch(url, { method: "POST", body: body === undefined ? undefined : JSON.stringify(body), headers: { "content-type": "application/json" } });

describe("the embedded orders service", () => {
  it("reports every actor's state while it runs, takes orders, and drains to final states", async () => {
    service = createOrdersService({ partitions: 2, flakyAboveQty: 10, refusedItem: "caviar" });
    const url = await service.start();

    const running = (await get(`${url}/state`)) as { status: string; states: Record<string, unknown> };
    expect(running.status).toBe("active");
    expect(Object.keys(running.states).sort()).toEqual(
      ["orders", "orders/batcher/0", "orders/batcher/1", "orders/reader/0", "orders/reader/1", "orders/sink/0", "orders/sink/1"].sort(),
    );
    expect(running.states["orders"]).toEqual({ running: "collecting" });
    expect(running.states["orders/reader/0"]).toMatchObject({ active: { fetch: "reading" } });
    expect(running.states["orders/batcher/1"]).toBe("collecting");
    expect(running.states["orders/sink/1"]).toBe("idle");

    const orders = [
      ...Array.from({ length: 40 }, (_, i) => ({ item: `item-${i}`, qty: i })),
      { item: "caviar", qty: 1 },
    ];
    const accepted = await post(`${url}/orders`, orders);
    expect(accepted.status).toBe(202);
    expect((await post(`${url}/orders`, { item: 3 })).status).toBe(400);

    // Every order is written (qty > 10 after one refusal) or, for caviar, dead-lettered.
    for (let i = 0; i < 200 && service.warehouse.size < 40; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(service.warehouse.size).toBe(40);

    expect((await post(`${url}/drain`)).status).toBe(202);
    const output = await service.done;
    expect(output.status).toBe("completed");
    expect(output.partitions.reduce((sum, p) => sum + p.ok, 0)).toBe(40);
    expect(output.partitions.reduce((sum, p) => sum + p.fallback, 0)).toBe(1);
    expect(service.deadLetters.map((letter) => letter.order.item)).toEqual(["caviar"]);

    const stats = await get(`${url}/stats`);
    expect(stats).toMatchObject({ written: 40, deadLetters: 1 });
    expect((stats["acked"] as number[]).reduce((a, b) => a + b, 0)).toBe(41);

    const final = (await get(`${url}/state`)) as { status: string; states: Record<string, unknown> };
    expect(final.status).toBe("done");
    expect(final.states["orders"]).toBe("stopped");
    expect(final.states["orders/reader/0"]).toBe("stopped");
    expect(final.states["orders/batcher/0"]).toBe("stopped");
    expect(final.states["orders/sink/1"]).toBe("done");
    expect((await post(`${url}/orders`, { item: "late", qty: 1 })).status).toBe(409);
  });

  it("finishes on its own when its queues are closed", async () => {
    service = createOrdersService({ partitions: 3, open: false, orders: Array.from({ length: 25 }, (_, i) => ({ item: `i${i}`, qty: 1 })) });
    await service.start();
    const output = await service.done;
    expect(output).toMatchObject({ vertex: "orders", status: "completed" });
    expect(service.warehouse.size).toBe(25);
  });
});
