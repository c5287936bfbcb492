import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { API_DIR } from "./support";

export const DOCKERFILE = resolve(API_DIR, "Dockerfile");

/** One build stage: its FROM line and the instructions up to the next FROM. */
export interface Stage {
  readonly name: string;
  readonly image: string;
  readonly flags: Readonly<Record<string, string>>;
  readonly instructions: readonly Instruction[];
}

/** An instruction reduced to what the tests read. */
export interface Step {
  readonly keyword: string;
  /** Arguments without flags, quotes kept as written. */
  readonly args: readonly string[];
  /** `--name=value` flags. */
  readonly flags: Readonly<Record<string, string>>;
  /** The whole argument text with line continuations joined. */
  readonly text: string;
}

export function step(instruction: Instruction): Step {
  const flags: Record<string, string> = {};
  const withFlags = instruction as Instruction & {
    getFlags?: () => Array<{ getName(): string; getValue(): string | null }>;
  };
  for (const flag of withFlags.getFlags?.() ?? []) flags[flag.getName()] = flag.getValue() ?? "";
  return {
    keyword: instruction.getKeyword(),
    args: instruction
      .getArguments()
      .map((a) => a.getValue())
      .filter((a) => !a.startsWith("--")),
    flags,
    text: instruction.getArgumentsContent() ?? "",
  };
}

/** Parses api/Dockerfile (or the given text) into stages. */
export function readDockerfile(text = readFileSync(DOCKERFILE, "utf8")): Stage[] {
  const parsed = DockerfileParser.parse(text);
  const stages: Array<{
    name: string;
    image: string;
    flags: Record<string, string>;
    instructions: Instruction[];
  }> = [];
  for (const instruction of parsed.getInstructions()) {
    if (instruction.getKeyword() === "FROM") {
      const from = parsed
        .getFROMs()
        .find((f) => f.getRange().start.line === instruction.getRange().start.line);
      if (!from) throw new Error("FROM without a parse");
      const flags: Record<string, string> = {};
      for (const flag of from.getFlags()) flags[flag.getName()] = flag.getValue() ?? "";
      stages.push({
        name: from.getBuildStage() ?? String(stages.length),
        image: from.getImage() ?? "",
        flags,
        instructions: [],
      });
    } else {
      const current = stages.at(-1);
      if (current) current.instructions.push(instruction);
    }
  }
  return stages;
}

/** The steps of one stage, by name. */
export function stageSteps(stages: readonly Stage[], name: string): Step[] {
  const stage = stages.find((s) => s.name === name);
  if (!stage) throw new Error(`no stage ${name} in api/Dockerfile`);
  return stage.instructions.map(step);
}
