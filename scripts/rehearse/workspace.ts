/**
 * The rehearsal's checkout: a copy of the repository's files (tracked and new, as `git ls-files`
 * lists them) in a temporary folder, with `node_modules` linked. Every cdktf, npm and delivery
 * command runs there, as a workflow runs in its checkout, so a rehearsal can commit a change the way
 * a developer would (add a customer to `config/settings.ts`, say) without touching the user's tree.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";

/** A copy of the repository with reversible edits. */
export class Workspace {
  private readonly originals = new Map<string, string>();

  private constructor(readonly dir: string) {}

  /** Copies `root`'s files (tracked and untracked, not ignored) to `dir` and links node_modules. */
  static create(root: string, dir: string): Workspace {
    const listed = execFileSync(
      "git",
      ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
      { cwd: root, maxBuffer: 64 * 1024 * 1024 },
    )
      .toString()
      .split("\0")
      .filter(Boolean);
    for (const file of listed) {
      const from = join(root, file);
      if (!existsSync(from)) continue; // deleted in the working tree
      const to = join(dir, file);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
      chmodSync(to, statSync(from).mode & 0o777);
    }
    for (const modules of ["node_modules", join("api", "node_modules")]) {
      if (existsSync(join(root, modules)) && !existsSync(join(dir, modules))) {
        symlinkSync(join(root, modules), join(dir, modules), "dir");
      }
    }
    return new Workspace(dir);
  }

  /** Absolute path of a file of the copy. */
  path(file: string): string {
    return join(this.dir, file);
  }

  /**
   * Replaces the copy of `file` with `edit(original)`; {@link restore} brings the original back.
   * Throws if the edit changes nothing, so an edit cannot silently stop applying.
   */
  edit(file: string, edit: (text: string) => string): void {
    const original = this.originals.get(file) ?? readFileSync(this.path(file), "utf8");
    const changed = edit(original);
    if (changed === original) throw new Error(`the rehearsal's edit of ${file} changed nothing`);
    this.originals.set(file, original);
    writeFileSync(this.path(file), changed);
  }

  /** Appends statements to `config/settings.ts`, as a commit changing the settings would. */
  editSettings(statements: string): void {
    this.edit(
      "config/settings.ts",
      (text) => `${text}\n// Rehearsal change (not committed):\n${statements}\n`,
    );
  }

  /** Brings back the original of `file`, or of every edited file. */
  restore(file?: string): void {
    for (const [name, text] of this.originals) {
      if (file !== undefined && name !== file) continue;
      writeFileSync(this.path(name), text);
      this.originals.delete(name);
    }
  }
}
