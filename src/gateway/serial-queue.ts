/**
 * Runs tasks one after another in the order given. A task that finishes synchronously (a send,
 * which only hands the message to the writer) costs no promise, so a socket's sends stay pipelined;
 * a task that awaits holds back the ones behind it until it is done.
 */
export class SerialQueue {
  private tail: Promise<void> | null = null;

  run(task: () => void | Promise<void>): void {
    if (this.tail === null) {
      const result = task();
      if (result) this.track(result);
      return;
    }
    this.track(this.tail.then(task));
  }

  private track(work: Promise<void>): void {
    const tail: Promise<void> = work.then(
      () => this.settle(tail),
      () => this.settle(tail),
    );
    this.tail = tail;
  }

  private settle(tail: Promise<void>): void {
    if (this.tail === tail) this.tail = null;
  }
}
