import type { ServerEvent } from './events.js';

/** An event and the users whose sockets it is for. */
export interface Delivery {
  to: readonly number[];
  event: ServerEvent;
  /** The event's id in the log (a message's id), for an event that is in it. */
  seq?: number;
}

/**
 * Fan-out between server processes. Every process hands each event to the broker, and the broker
 * hands every event to every process's listener (its own included), which delivers to its sockets.
 */
export interface Broker {
  publish(delivery: Delivery): void;
  subscribe(listener: (delivery: Delivery) => void): void;
  /** False while the processes cannot reach each other through it. */
  readonly connected: boolean;
  close(): Promise<void>;
}

/** One process: events go straight to this process's listener. */
export class LocalBroker implements Broker {
  private listener: (delivery: Delivery) => void = () => {};
  readonly connected = true;

  publish(delivery: Delivery): void {
    this.listener(delivery);
  }

  subscribe(listener: (delivery: Delivery) => void): void {
    this.listener = listener;
  }

  async close(): Promise<void> {}
}
