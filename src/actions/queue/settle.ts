/**
 * The deliveries of one channel that were republished and await the destination's confirm, in
 * delivery order. A confirm may arrive out of order; the source is acknowledged with `multiple`
 * only up to the end of the confirmed prefix, so one ack frame settles many messages and no
 * unconfirmed message is ever acknowledged.
 */
export class SettleWindow<T> {
  // Map iteration follows insertion, which is delivery-tag order on one channel.
  private readonly pending = new Map<number, { item: T; confirmed: boolean }>();

  get size(): number {
    return this.pending.size;
  }

  add(tag: number, item: T): void {
    if (this.pending.has(tag)) throw new Error(`delivery tag ${tag} is already awaiting its confirm`);
    this.pending.set(tag, { item, confirmed: false });
  }

  /**
   * Marks a delivery confirmed and returns the items of the confirmed prefix, now removed, in order:
   * acknowledge the last one with `multiple`. Empty when an earlier delivery is still unconfirmed.
   */
  confirm(tag: number): T[] {
    const entry = this.pending.get(tag);
    if (!entry) throw new Error(`delivery tag ${tag} is not awaiting a confirm`);
    entry.confirmed = true;
    const settled: T[] = [];
    for (const [pendingTag, pending] of this.pending) {
      if (!pending.confirmed) break;
      settled.push(pending.item);
      this.pending.delete(pendingTag);
    }
    return settled;
  }

  /** Takes a delivery out of the window (it was nacked on its own); false when it was not in it. */
  remove(tag: number): boolean {
    return this.pending.delete(tag);
  }

  /** Empties the window (everything in it was requeued at once). */
  clear(): void {
    this.pending.clear();
  }
}
