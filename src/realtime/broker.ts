/** An event on its way to users' sockets, serialized once for all of them. */
export interface RealtimeEvent {
  to: readonly number[];
  frame: string;
  /** Set on new-message events: lets each hub know which ids it has delivered. */
  messageId?: number;
}

/**
 * Fan-out between server processes. Every process hands each event to the broker, and the broker
 * hands every event to every process's listener (its own included), which delivers to its sockets.
 */
export interface Broker {
  publish(event: RealtimeEvent): void;
  subscribe(listener: (event: RealtimeEvent) => void): void;
  close(): Promise<void>;
}

/** One process: events go straight to this process's listener. */
export class LocalBroker implements Broker {
  private listener: (event: RealtimeEvent) => void = () => {};

  publish(event: RealtimeEvent): void {
    this.listener(event);
  }

  subscribe(listener: (event: RealtimeEvent) => void): void {
    this.listener = listener;
  }

  async close(): Promise<void> {}
}
