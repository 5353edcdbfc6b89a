/**
 * Starts the orders service of orders-service.ts on http://127.0.0.1:8787 (or $PORT).
 *
 *   pnpm build && node --import tsx examples/embed/main.ts
 *   curl -s localhost:8787/state
 *   curl -s -XPOST localhost:8787/orders -d '[{"item":"tea","qty":2},{"item":"jam","qty":12}]'
 *   curl -s -XPOST localhost:8787/drain
 *
 * Ctrl-C drains too; the process exits once every actor has reached its final state.
 */
import { createOrdersService } from "./orders-service.js";

const service = createOrdersService({ partitions: 3, flakyAboveQty: 10, refusedItem: "caviar" });
const url = await service.start(Number(process.env["PORT"] ?? 8787));
console.log(`orders service on ${url} — GET /state, GET /stats, POST /orders, POST /drain`);
process.once("SIGINT", () => service.drain());
process.once("SIGTERM", () => service.drain());
const output = await service.done;
console.log(`done: ${JSON.stringify(output)}`);
await service.close();
