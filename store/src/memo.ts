/**
 * A bounded memo of values made from a string key: a node uses the same few rooms again and
 * again, so their keys and frames are made once. When it holds `max` values it starts afresh,
 * so a stream of ever-new keys costs no more than `max` entries.
 */
export class BoundedMemo<V> {
  private readonly values = new Map<string, V>();

  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    return this.values.get(key);
  }

  set(key: string, value: V): V {
    if (this.values.size >= this.max) this.values.clear();
    this.values.set(key, value);
    return value;
  }

  clear(): void {
    this.values.clear();
  }

  get size(): number {
    return this.values.size;
  }
}
