/**
 * The smallest valid `Message`: only its id matters to the actor tests, which follow messages by
 * id through reads, epochs, writes and acks. Shared so every test builds them the same way.
 */
import type { Message } from "@weir/actors";

export const message = (id: string): Message => ({ id, keys: [], value: new Uint8Array(), eventTime: 0, headers: {} });
