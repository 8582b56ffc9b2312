/**
 * The OT types of collaborative documents, from their libraries: ot-text-unicode for text (positions
 * count Unicode code points) and ot-json1 for JSON (conflicts resolved by its transformNoConflict).
 * Nodes, the emitter and clients use the same functions, so every side transforms alike.
 *
 * The libraries trust their input: ot-text-unicode's apply walks a skip or a delete one code point
 * at a time, so `[1e15, "x"]` keeps a process busy for days. Every op and selection from outside is
 * therefore bounded here before a library function sees it:
 * - normalize: the op's JSON is at most DOC_OP_MAX_BYTES; every skip and delete count (also inside
 *   a JSON op's text edits) is a positive integer and the counts of one text op add up to at most
 *   DOC_MAX_BYTES code points (no document holds more); a number edit is a finite number.
 * - apply: the skips and deletes of a text op add up to at most the length of the text it edits
 *   (for a JSON op: of each string it edits), a number edit edits a number and stays finite.
 * - commitOp: a text op made against an older version fits that version before it is transformed;
 *   the result is at most DOC_MAX_BYTES.
 * - moveSelection: text positions lie within the document at their version.
 * Refusals are AppErrors (VALIDATION_FAILED, PAYLOAD_TOO_LARGE) and change nothing.
 */
import { type as json1 } from "ot-json1";
import { type as text, type TextOp } from "ot-text-unicode";
import { AppError } from "./errors";
import { DOC_MAX_BYTES, DOC_OP_MAX_BYTES, type DocOpEntry, type DocSelection, type DocType } from "./docs";
import { jsonBytes, utf8Bytes } from "./json";

export interface DocOt {
  /** The content of a new document. */
  create(): unknown;
  /** A well-formed op within the limits, in its normal form; throws an AppError with the reason otherwise. */
  normalize(op: unknown): unknown;
  /**
   * The document after the op (never modifies `snapshot`); throws when the op does not fit it (an
   * AppError for the limits: a skip or delete past the end of a text, an edit of a missing value).
   */
  apply(snapshot: unknown, op: unknown): unknown;
  /** `op` moved past `other`, made concurrently on the same version. */
  transform(op: unknown, other: unknown, side: "left" | "right"): unknown;
  compose(a: unknown, b: unknown): unknown;
  /** True when `selection` has this type's shape. */
  isSelection(selection: unknown): selection is DocSelection;
  /** The selection moved through an op (null: the JSON item it pointed at was removed). */
  transformSelection(selection: DocSelection, op: unknown): DocSelection | null;
  /** The document's size in bytes (see DOC_MAX_BYTES). */
  size(snapshot: unknown): number;
}

/**
 * The largest skip, delete or position anywhere: a code point takes at least one UTF-8 byte, so no
 * document holds more than DOC_MAX_BYTES of them.
 */
export const DOC_COUNT_MAX = DOC_MAX_BYTES;

const isPosition = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

const refuse = (message: string, details?: unknown) => new AppError("VALIDATION_FAILED", message, details);

/** A component for an error message, cut short (an insert may be 32 KB). */
const brief = (c: unknown): string => {
  const json = JSON.stringify(c) ?? String(c);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
};

/**
 * Length in code points as ot-text-unicode counts it: a UTF-16 surrogate and the unit after it
 * count once (for well-formed text, the Unicode code points).
 */
export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++, n++) {
    const unit = s.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdfff) i++;
  }
  return n;
}

type TextComponent = TextOp[number];

/** Code points a component consumes from the document it applies to (skips and deletes). */
const consumed = (c: TextComponent): number => (typeof c === "number" ? c : typeof c === "string" ? 0 : typeof c.d === "number" ? c.d : codePointLength(c.d));

/** How far into the document a text op reaches: its skips and deletes together. */
const textReach = (op: TextOp): number => op.reduce((sum: number, c) => sum + consumed(c), 0);

/** How many code points longer the document gets (inserts minus deletes). */
const textGrowth = (op: TextOp): number => op.reduce((sum: number, c) => sum + (typeof c === "string" ? codePointLength(c) : typeof c === "number" ? 0 : -consumed(c)), 0);

/**
 * A well-formed text op within the static limits. Runs before any library function sees the op
 * (also for the text edits inside JSON ops, through the subtype registered below).
 */
function checkTextOp(op: unknown): asserts op is TextOp {
  if (!Array.isArray(op)) throw refuse("a text op is an array of components");
  let reach = 0;
  for (const c of op as unknown[]) {
    if (typeof c === "string") continue;
    const isDelete = typeof c === "object" && c !== null && Object.keys(c).length === 1 && "d" in c;
    const count = typeof c === "number" ? c : isDelete ? (c as { d: unknown }).d : undefined;
    if (typeof count === "string") {
      reach += codePointLength(count);
      continue;
    }
    if (typeof count !== "number") throw refuse(`${brief(c)} is not a component (a skip count, an insert string or { d: count or string })`);
    if (!Number.isInteger(count) || count < 1 || count > DOC_COUNT_MAX) {
      throw refuse(`${brief(c)}: a skip or delete count is an integer from 1 to ${DOC_COUNT_MAX}`, { limit: DOC_COUNT_MAX });
    }
    reach += count;
  }
  if (reach > DOC_COUNT_MAX) throw refuse(`the op skips and deletes ${reach} code points; no document holds more than ${DOC_COUNT_MAX}`, { reach, limit: DOC_COUNT_MAX });
  // The library's own rules: no empty inserts or deletes, no adjacent or trailing skips.
  try {
    text.checkOp(op as TextOp);
  } catch (err) {
    throw refuse((err as Error).message);
  }
}

/** Refuses an op whose skips and deletes reach past a text of `length` code points. */
function checkTextReach(op: TextOp, length: number, where: string): void {
  const reach = textReach(op);
  if (reach > length) throw refuse(`the op skips and deletes ${reach} code points; ${where} has ${length}`, { reach, length });
}

/** A text op applied to a string, after checking it fits (ot-text-unicode would walk any count). */
function applyText(doc: unknown, op: unknown): string {
  if (typeof doc !== "string") throw refuse("a text edit applies to a string");
  checkTextOp(op);
  // Every code point is one or two UTF-16 units: an op reaching at most half the units fits without counting.
  if (textReach(op) > doc.length / 2) checkTextReach(op, codePointLength(doc), "the text");
  return text.apply(doc, op);
}

const textOt: DocOt = {
  create: () => text.create(),
  normalize(op) {
    checkOpBytes(op);
    checkTextOp(op);
    return text.normalize(op);
  },
  apply: applyText,
  transform: (op, other, side) => text.transform(op as TextOp, other as TextOp, side),
  compose: (a, b) => text.compose(a as TextOp, b as TextOp),
  isSelection: (s): s is DocSelection => isPosition(s) || (Array.isArray(s) && s.length === 2 && s.every(isPosition)),
  transformSelection: (selection, op) => text.transformSelection(selection as number | [number, number], op as TextOp),
  size: (snapshot) => utf8Bytes(snapshot as string),
};

/** A number edit (`ena`): a finite number added to a number, staying finite. */
function checkNumberEdit(n: unknown): asserts n is number {
  if (typeof n !== "number" || !Number.isFinite(n)) throw refuse(`${brief(n)}: a number edit (ena) is a finite number`);
}

/*
 * ot-json1 applies, checks and transforms the edits inside a JSON op (`es`, `ena`, `et` + `e`)
 * through its registry of subtypes, shared by every user of the library in this process. The
 * bounded text functions and a strict number type replace its defaults, so an embedded edit meets
 * the same limits as a text op: json1.checkValidOp calls checkValidOp on each embedded edit, and
 * json1.apply calls apply with the very value the edit reaches.
 */
json1.registerSubtype({ ...text, checkValidOp: checkTextOp, apply: applyText });
json1.registerSubtype({
  name: "number",
  checkValidOp: checkNumberEdit,
  apply(value: unknown, n: unknown) {
    checkNumberEdit(n);
    if (typeof value !== "number") throw refuse("a number edit (ena) applies to a number");
    const sum = value + n;
    if (!Number.isFinite(sum)) throw refuse("a number edit (ena) would leave a number that is not finite");
    return sum;
  },
  compose: (a: number, b: number) => a + b,
  invert: (n: number) => -n,
  transform: (n: number) => n,
});

type JsonOp = Parameters<typeof json1.apply>[1];
type JsonPath = Parameters<typeof json1.transformPosition>[0];

/** json1's own checks throw plain Errors (asserts): refusals like any other. */
function jsonCheck(op: unknown): asserts op is JsonOp {
  try {
    json1.checkValidOp(op as JsonOp);
  } catch (err) {
    throw err instanceof AppError ? err : refuse((err as Error).message);
  }
}

const jsonOt: DocOt = {
  create: () => ({}),
  normalize(op) {
    checkOpBytes(op);
    if (op !== null && !Array.isArray(op)) throw refuse("a JSON op is an array of components or null");
    jsonCheck(op);
    return json1.normalize(op);
  },
  apply: (snapshot, op) => json1.apply(snapshot as Parameters<typeof json1.apply>[0], op as JsonOp),
  transform: (op, other, side) => json1.transformNoConflict(op as JsonOp, other as JsonOp, side),
  compose: (a, b) => json1.compose(a as JsonOp, b as JsonOp),
  isSelection: (s): s is DocSelection => Array.isArray(s) && s.every((k) => isPosition(k) || typeof k === "string"),
  transformSelection: (selection, op) => json1.transformPosition(selection as JsonPath, op as JsonOp),
  size: (snapshot) => jsonBytes(snapshot),
};

export const DOC_OT: Readonly<Record<DocType, DocOt>> = { text: textOt, json: jsonOt };

function checkOpBytes(op: unknown): void {
  const size = jsonBytes(op);
  if (size > DOC_OP_MAX_BYTES) throw new AppError("PAYLOAD_TOO_LARGE", `an op is at most ${DOC_OP_MAX_BYTES} bytes`, { size, limit: DOC_OP_MAX_BYTES });
}

/**
 * The length of the text an op made before `since` was made against: the head's, minus what the
 * ops since added. Lets an old op be measured without the old text.
 */
function textLengthBefore(head: string, since: readonly Pick<DocOpEntry, "op">[]): number {
  return since.reduce((length, entry) => length - textGrowth(entry.op as TextOp), codePointLength(head));
}

/**
 * Takes an op (normalized) that was made against an older version to the latest: `since` are the
 * log's ops after that version, in order, and `head` the document after them. A text op must fit
 * the text it was made against before it is transformed; it is then transformed against each op
 * since (the incoming op goes `left`: ops already in the log keep priority, as a client
 * transforming a received op against its own unacknowledged one, that one `left`, expects),
 * applied to `head` (which checks it fits again, and a JSON op's edits against the strings and
 * numbers they edit), and the result held to DOC_MAX_BYTES. Answers the moved op and the new
 * document; throws an AppError and changes nothing otherwise.
 */
export function commitOp(type: DocType, head: unknown, op: unknown, since: readonly Pick<DocOpEntry, "op">[]): { op: unknown; doc: unknown } {
  const ot = DOC_OT[type];
  if (type === "text" && since.length > 0) checkTextReach(op as TextOp, textLengthBefore(head as string, since), "the text it was made against");
  const moved = since.reduce((acc, entry) => ot.transform(acc, entry.op, "left"), op);
  const doc = ot.apply(head, moved);
  const size = ot.size(doc);
  if (size > DOC_MAX_BYTES) throw new AppError("PAYLOAD_TOO_LARGE", `a document is at most ${DOC_MAX_BYTES} bytes; this op makes it ${size}`, { size, limit: DOC_MAX_BYTES });
  return { op: moved, doc };
}

/**
 * A selection made at an older version (`since` and `head` as for commitOp), moved to the latest.
 * Text positions must lie within the text at that version; JSON path indexes within DOC_COUNT_MAX.
 */
export function moveSelection(type: DocType, selection: DocSelection, head: unknown, since: readonly Pick<DocOpEntry, "op">[]): DocSelection | null {
  const positions = (Array.isArray(selection) ? selection : [selection]).filter((k): k is number => typeof k === "number");
  const limit = type === "text" ? textLengthBefore(head as string, since) : DOC_COUNT_MAX;
  const beyond = positions.find((p) => p > limit);
  if (beyond !== undefined) {
    throw refuse(type === "text" ? `position ${beyond} is beyond the end of the text (${limit} code points)` : `index ${beyond} is beyond any list (at most ${DOC_COUNT_MAX})`, { limit });
  }
  const ot = DOC_OT[type];
  let moved: DocSelection | null = selection;
  for (const entry of since) if (moved !== null) moved = ot.transformSelection(moved, entry.op);
  return moved;
}

/** A snapshot brought forward through log entries, in order. */
export function applyEntries(type: DocType, snapshot: unknown, entries: readonly Pick<DocOpEntry, "op">[]): unknown {
  const ot = DOC_OT[type];
  return entries.reduce((doc, entry) => (type === "text" ? replayText(doc, entry.op) : ot.apply(doc, entry.op)), snapshot);
}

/**
 * A text op of the stored log, applied as it was when it was committed: earlier versions let
 * ot-text-unicode clip a delete that ran past the end, and such an entry must still replay. Its
 * counts are bounded all the same, so a replay never walks further than DOC_COUNT_MAX.
 */
function replayText(doc: unknown, op: unknown): string {
  if (typeof doc !== "string") throw refuse("a text edit applies to a string");
  checkTextOp(op);
  return text.apply(doc, op);
}
