/**
 * A writer's working copy of a document: the latest version it knows, the document at that
 * version (the head) and the latest ops, so an op against a recent version is transformed
 * without a store round trip. The store stays the authority: an append that another writer beat
 * answers the ops this copy lacks.
 */
import { applyEntries, DOC_OT, type DocOpEntry, type DocType } from "@switchboard/shared";
import type { DocRead, DocStore } from "./types";

/** Ops kept per document for transforming late ops and cursors without a store read. */
const RECENT_ENTRIES = 200;

export class DocState {
  /** The latest entries, the last one at `version` (at most RECENT_ENTRIES). */
  private recent: DocOpEntry[] = [];

  private constructor(
    readonly type: DocType,
    public version: number,
    public head: unknown,
  ) {}

  /** A document nobody wrote yet (version 0, the type's empty content). */
  static empty(type: DocType): DocState {
    return new DocState(type, 0, DOC_OT[type].create());
  }

  /** The document as a full read (a snapshot and the ops after it) found it. */
  static fromSnapshot(read: Extract<DocRead, { kind: "snapshot" }>): DocState {
    const base = read.snapshot === undefined ? DOC_OT[read.type].create() : read.snapshot;
    const state = new DocState(read.type, read.snapshotVersion, base);
    state.absorb(read.entries);
    return state;
  }

  /**
   * The document as the store holds it now: `known` caught up when it can be (it is returned,
   * moved on), else a copy made from the snapshot; undefined when there is no document.
   */
  static async read(docs: DocStore, tenant: string, docId: string, known?: DocState): Promise<DocState | undefined> {
    const read = await docs.read(tenant, docId, known?.version);
    if (!read) return undefined;
    if (known?.catchUp(read)) return known;
    const full = read.kind === "snapshot" ? read : await docs.read(tenant, docId);
    return full?.kind === "snapshot" ? DocState.fromSnapshot(full) : undefined;
  }

  /**
   * Catches up with a store read made from this copy's version: ops are applied; a snapshot (this
   * copy fell behind the log, or the document was made anew) replaces the copy. False when the
   * read is of a document of another type.
   */
  catchUp(read: DocRead): boolean {
    if (read.type !== this.type) return false;
    if (read.kind === "ops") {
      this.absorb(read.entries);
      return true;
    }
    const fresh = DocState.fromSnapshot(read);
    this.version = fresh.version;
    this.head = fresh.head;
    this.recent = fresh.recent;
    return true;
  }

  /** Applies the entries that follow this version, in order (older ones are skipped). */
  absorb(entries: readonly DocOpEntry[]): void {
    for (const entry of entries) {
      if (entry.version <= this.version) continue;
      if (entry.version !== this.version + 1) throw new Error(`document log gap: have ${this.version}, got ${entry.version}`);
      this.advance(entry, applyEntries(this.type, this.head, [entry]));
    }
  }

  /** Records an entry whose result is already known (the op this writer just appended). */
  advance(entry: DocOpEntry, head: unknown): void {
    this.head = head;
    this.version = entry.version;
    this.recent.push(entry);
    if (this.recent.length > RECENT_ENTRIES) this.recent.splice(0, this.recent.length - RECENT_ENTRIES);
  }

  /** The entries after `version` when this copy still holds them all. */
  entriesAfter(version: number): DocOpEntry[] | undefined {
    if (version === this.version) return [];
    const first = this.recent[0];
    if (!first || version + 1 < first.version || version > this.version) return undefined;
    return this.recent.slice(version + 1 - first.version);
  }
}
