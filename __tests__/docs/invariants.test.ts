/**
 * docs/invariants.md is the numbered list of properties that tests, comments and policy files cite.
 * Every number a tracked file cites must have an entry there, every entry must say where it is
 * checked (a file that exists, or plainly that no test checks it) and who recommends it, and no file
 * may cite the list by its former file name. The checks are pure functions over text, so the second
 * half of this file feeds each one a broken input and watches it report.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const repoRoot = join(__dirname, "..", "..");
const LIST = "docs/invariants.md";
/** The list's former file name, spelt in pieces so that this file does not cite it. */
const FORMER_NAME = ["INVARIANTS", "md"].join(".");
/** What an entry whose property no test checks says in its **Checked by** line. */
const NOT_CHECKED = "not checked by a test";

/** One `### <n>. <title>` entry of the list, with the lines under it. */
interface Entry {
  readonly number: number;
  readonly title: string;
  /** 1-based line of the heading. */
  readonly line: number;
  readonly body: readonly string[];
}

/** The numbered entries of the list, in the order they appear. */
function parseEntries(markdown: string): Entry[] {
  const entries: { number: number; title: string; line: number; body: string[] }[] = [];
  markdown.split("\n").forEach((text, index) => {
    const heading = /^### (\d+)\. (\S.*)$/.exec(text);
    if (heading) {
      entries.push({ number: Number(heading[1]), title: heading[2], line: index + 1, body: [] });
    } else if (/^#{1,3} /.test(text)) {
      entries.push({ number: NaN, title: "", line: index + 1, body: [] }); // ends the last entry
    } else {
      entries.at(-1)?.body.push(text);
    }
  });
  return entries.filter((entry) => !Number.isNaN(entry.number));
}

/** Numbers that head more than one entry, as `<n> (lines a, b)`. */
function duplicateNumbers(entries: readonly Entry[]): string[] {
  const lines = new Map<number, number[]>();
  for (const entry of entries)
    lines.set(entry.number, [...(lines.get(entry.number) ?? []), entry.line]);
  return [...lines]
    .filter(([, at]) => at.length > 1)
    .map(([number, at]) => `${number} (lines ${at.join(", ")})`);
}

/** The text after `**<label>:**` in an entry's list items, or undefined when it has none. */
function field(entry: Entry, label: string): string | undefined {
  const prefix = `- **${label}:**`;
  const item = entry.body.find((text) => text.startsWith(prefix));
  return item?.slice(prefix.length).trim();
}

/** Backquoted repository paths in a text: `a/b` whose first segment is at the repository's top. */
function repositoryPaths(text: string, topLevel: ReadonlySet<string>): string[] {
  return [...text.matchAll(/`([^`\s]+)`/g)]
    .map((match) => match[1])
    .filter((token) => token.includes("/") && topLevel.has(token.split("/")[0]));
}

/**
 * What is wrong with the entries: no **Checked by**, one that names no file and does not say no test
 * checks it, one naming a path that does not exist, or no **Recommended by**.
 */
function entryProblems(
  entries: readonly Entry[],
  topLevel: ReadonlySet<string>,
  exists: (path: string) => boolean,
): string[] {
  const problems: string[] = [];
  for (const entry of entries) {
    const at = `${LIST}:${entry.line} (${entry.number})`;
    const checkedBy = field(entry, "Checked by");
    if (checkedBy === undefined) {
      problems.push(`${at}: no "Checked by"`);
    } else {
      const paths = repositoryPaths(checkedBy, topLevel);
      for (const path of paths.filter((p) => !exists(p))) {
        problems.push(`${at}: "Checked by" names ${path}, which does not exist`);
      }
      if (paths.length === 0 && !checkedBy.toLowerCase().startsWith(NOT_CHECKED)) {
        problems.push(`${at}: "Checked by" names no file and does not say "${NOT_CHECKED}"`);
      }
    }
    if (!field(entry, "Recommended by")) problems.push(`${at}: no "Recommended by"`);
  }
  return problems;
}

/** A cited list of numbers: `29`, `21-28`, `21–28, 37 and 38`, `1-20 and 29`. */
const NUMBER_LIST = String.raw`\d+(?:\s*[-–]\s*\d+)?(?:\s*(?:,|and|&)\s*\d+(?:\s*[-–]\s*\d+)?)*`;
/** `invariant <n>`, `invariants <n>–<m>`, `docs/invariants.md <n>`, and the former name so. */
const CITATION = new RegExp(
  String.raw`\b(?:(?:docs/)?invariants\.md|invariants?)\s+(${NUMBER_LIST})\b`,
  "gi",
);

/** One number a file cites, where. */
interface Citation {
  readonly number: number;
  readonly line: number;
  readonly text: string;
}

/** Every invariant number the text cites, ranges expanded. A range that runs backwards is NaN. */
function citations(text: string): Citation[] {
  const found: Citation[] = [];
  for (const match of text.matchAll(CITATION)) {
    const line = text.slice(0, match.index).split("\n").length;
    for (const part of match[1].split(/\s*(?:,|and|&)\s*/i)) {
      const [from, to = from] = part.split(/\s*[-–]\s*/).map(Number);
      if (to < from) found.push({ number: NaN, line, text: match[0] });
      for (let n = from; n <= to; n++) found.push({ number: n, line, text: match[0] });
    }
  }
  return found;
}

/** `file:line: cites <n>` for every cited number that has no entry (or a range that runs backwards). */
function unlistedCitations(
  files: ReadonlyMap<string, string>,
  numbers: ReadonlySet<number>,
): string[] {
  const problems: string[] = [];
  for (const [file, text] of files) {
    for (const citation of citations(text)) {
      if (Number.isNaN(citation.number)) {
        problems.push(`${file}:${citation.line}: "${citation.text}" runs backwards`);
      } else if (!numbers.has(citation.number)) {
        problems.push(
          `${file}:${citation.line}: "${citation.text}" cites ${citation.number}, which has no entry in ${LIST}`,
        );
      }
    }
  }
  return problems;
}

/** `file:line` of every line that still names the list by its former file name. */
function formerNameUses(files: ReadonlyMap<string, string>): string[] {
  const uses: string[] = [];
  for (const [file, text] of files) {
    text.split("\n").forEach((line, index) => {
      if (line.includes(FORMER_NAME)) uses.push(`${file}:${index + 1}: ${line.trim()}`);
    });
  }
  return uses;
}

/** Tracked text files but the list itself, by path (files deleted in the work tree are skipped). */
function trackedTexts(): Map<string, string> {
  const listed = execFileSync("git", ["ls-files", "-z"], { cwd: repoRoot, encoding: "utf8" });
  const texts = new Map<string, string>();
  for (const file of listed.split("\0").filter(Boolean)) {
    const path = join(repoRoot, file);
    if (file === LIST || !existsSync(path) || !statSync(path).isFile()) continue;
    const bytes = readFileSync(path);
    if (bytes.subarray(0, 8000).includes(0)) continue; // binary, e.g. a gzipped fixture
    texts.set(file, bytes.toString("utf8"));
  }
  return texts;
}

const topLevel = new Set(
  execFileSync("git", ["ls-files", "-z"], { cwd: repoRoot, encoding: "utf8" })
    .split("\0")
    .filter(Boolean)
    .map((file) => file.split("/")[0]),
);
const onDisk = (path: string) => existsSync(join(repoRoot, path));

describe(LIST, () => {
  const entries = parseEntries(readFileSync(join(repoRoot, LIST), "utf8"));
  const numbers = new Set(entries.map((entry) => entry.number));
  const files = trackedTexts();

  it("has numbered entries, each number once", () => {
    expect(entries.length).toBeGreaterThan(0);
    expect(duplicateNumbers(entries)).toEqual([]);
  });

  it("says for every entry where it is checked, naming files that exist, and who recommends it", () => {
    expect(entryProblems(entries, topLevel, onDisk)).toEqual([]);
  });

  it("has an entry for every number a tracked file cites", () => {
    expect(files.size).toBeGreaterThan(100);
    expect(unlistedCitations(files, numbers)).toEqual([]);
  });

  it("is the only name files cite the list by", () => {
    expect(formerNameUses(files)).toEqual([]);
  });
});

describe("each check reports what it is for", () => {
  // Citations are assembled from pieces so that this file itself cites nothing.
  const word = "invariant";
  const entry = (number: number, ...body: string[]) =>
    `### ${number}. Title\n\nText.\n\n${body.join("\n")}\n`;
  const recommended = "- **Recommended by:** [a guide](https://example.org).";

  it("reads every citation form the repository uses", () => {
    const text = [
      `// ${word} 29`,
      `${word}s 30–34 and the delivery design`,
      `"docs/${word}s.md 21-28, 37 and 38 on the rendered manifests"`,
      `${word} 9 (docs/${word}s.md)`,
      `the stacks keep docs/${word}s.md 1-3 and 29`,
      `(${FORMER_NAME} 8):`,
      `${word}s on the synthesized stacks`,
      `\`${word} \${number}\``,
    ].join("\n");
    expect(citations(text).map((c) => [c.line, c.number])).toEqual([
      [1, 29],
      ...[30, 31, 32, 33, 34].map((n) => [2, n]),
      ...[21, 22, 23, 24, 25, 26, 27, 28, 37, 38].map((n) => [3, n]),
      [4, 9],
      ...[1, 2, 3, 29].map((n) => [5, n]),
      [6, 8],
    ]);
  });

  it("names the file and line of a cited number without an entry, and of a backwards range", () => {
    const files = new Map([
      ["a.ts", `one\n// see ${word} 2\n`],
      ["b.md", `${word}s 1 and 3\n${word}s 5-4\n`],
    ]);
    expect(unlistedCitations(files, new Set([1, 2]))).toEqual([
      `b.md:1: "${word}s 1 and 3" cites 3, which has no entry in ${LIST}`,
      `b.md:2: "${word}s 5-4" runs backwards`,
    ]);
  });

  it("reports an entry without Checked by, naming a missing file, naming none, or without Recommended by", () => {
    const markdown = [
      "# List",
      entry(1, "- **Checked by:** `__tests__/docs/invariants.test.ts`.", recommended),
      entry(2, recommended),
      entry(3, "- **Checked by:** `__tests__/nowhere/missing.test.ts`.", recommended),
      entry(4, "- **Checked by:** the tests, somewhere.", recommended),
      entry(5, `- **Checked by:** ${NOT_CHECKED}.`, recommended),
      entry(6, "- **Checked by:** `__tests__/docs/invariants.test.ts`."),
      "## Next section",
      entry(1, "- **Checked by:** `pod-security.kubernetes.io/enforce`.", recommended),
    ].join("\n");
    const entries = parseEntries(markdown);
    expect(entries.map((e) => e.number)).toEqual([1, 2, 3, 4, 5, 6, 1]);
    expect(duplicateNumbers(entries)).toEqual([expect.stringMatching(/^1 \(lines \d+, \d+\)$/)]);
    expect(entryProblems(entries, topLevel, onDisk).map((p) => p.replace(/^\S+ /, ""))).toEqual([
      `(2): no "Checked by"`,
      `(3): "Checked by" names __tests__/nowhere/missing.test.ts, which does not exist`,
      `(4): "Checked by" names no file and does not say "${NOT_CHECKED}"`,
      `(6): no "Recommended by"`,
      `(1): "Checked by" names no file and does not say "${NOT_CHECKED}"`,
    ]);
  });

  it("finds the former name on any line", () => {
    const files = new Map([["c.yaml", `ok\n  reason: see ${FORMER_NAME}\n`]]);
    expect(formerNameUses(files)).toEqual([`c.yaml:2: reason: see ${FORMER_NAME}`]);
  });
});
