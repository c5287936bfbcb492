/**
 * A small GitHub REST client over `fetch` for the workflows' issue and run look-ups, using the
 * job's `GITHUB_TOKEN` (the job grants the permissions it needs: `issues: write`, `actions: read`).
 */
import { DeliveryError } from "./errors";
import type { IssueTracker, OpenIssue } from "./tracking-issue";

/** Where and as whom to call the API. */
export interface GitHubContext {
  readonly apiUrl: string;
  /** `owner/name`. */
  readonly repository: string;
  readonly token: string;
}

/** Reads `GITHUB_API_URL`, `GITHUB_REPOSITORY` and `GITHUB_TOKEN` (or `GH_TOKEN`). */
export function gitHubContextFromEnv(env: NodeJS.ProcessEnv): GitHubContext {
  const token = env.GITHUB_TOKEN ?? env.GH_TOKEN;
  const repository = env.GITHUB_REPOSITORY;
  if (!token)
    throw new DeliveryError("GITHUB_TOKEN is not set: pass the job token as env GITHUB_TOKEN.");
  if (!repository || !/^[\w.-]+\/[\w.-]+$/.test(repository)) {
    throw new DeliveryError(`GITHUB_REPOSITORY ${JSON.stringify(repository)} must be owner/name.`);
  }
  return { apiUrl: env.GITHUB_API_URL ?? "https://api.github.com", repository, token };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A step of a job, as the jobs API lists it. */
export interface JobStep {
  readonly name: string;
  readonly conclusion: string | null;
  readonly number: number;
}

/** A job of a workflow run. */
export interface RunJob {
  readonly id: number;
  readonly name: string;
  readonly conclusion: string | null;
  readonly htmlUrl: string;
  readonly steps: readonly JobStep[];
}

export class GitHubClient implements IssueTracker {
  constructor(
    private readonly context: GitHubContext,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const response = await this.fetchImpl(`${this.context.apiUrl}${path}`, {
      method,
      headers: {
        accept: "application/vnd.github+json",
        authorization: `Bearer ${this.context.token}`,
        "x-github-api-version": "2022-11-28",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) {
      const text = (await response.text()).slice(0, 500);
      throw new DeliveryError(
        `GitHub API ${method} ${path} answered ${response.status}: ${text}. Check the job's permissions (issues: write, actions: read).`,
      );
    }
    return response;
  }

  private async json(method: string, path: string, body?: unknown): Promise<unknown> {
    return (await this.request(method, path, body)).json() as Promise<unknown>;
  }

  private repo(path: string): string {
    return `/repos/${this.context.repository}${path}`;
  }

  async listOpenIssues(label: string): Promise<OpenIssue[]> {
    const issues: OpenIssue[] = [];
    for (let page = 1; page <= 10; page += 1) {
      const query = `?state=open&labels=${encodeURIComponent(label)}&per_page=100&page=${page}`;
      const batch = await this.json("GET", this.repo(`/issues${query}`));
      if (!Array.isArray(batch))
        throw new DeliveryError("GitHub API: listing issues did not return an array.");
      for (const item of batch) {
        if (!isRecord(item) || "pull_request" in item) continue;
        const labels = Array.isArray(item.labels)
          ? item.labels.map((l) => (isRecord(l) ? String(l.name) : String(l)))
          : [];
        issues.push({ number: Number(item.number), title: String(item.title), labels });
      }
      if (batch.length < 100) break;
    }
    return issues;
  }

  async createIssue(title: string, body: string, labels: readonly string[]): Promise<number> {
    const created = await this.json("POST", this.repo("/issues"), { title, body, labels });
    if (!isRecord(created) || typeof created.number !== "number") {
      throw new DeliveryError("GitHub API: creating the issue returned no issue number.");
    }
    return created.number;
  }

  async updateIssueBody(number: number, body: string): Promise<void> {
    await this.request("PATCH", this.repo(`/issues/${number}`), { body });
  }

  async addComment(number: number, body: string): Promise<void> {
    await this.request("POST", this.repo(`/issues/${number}/comments`), { body });
  }

  async closeIssue(number: number): Promise<void> {
    await this.request("PATCH", this.repo(`/issues/${number}`), {
      state: "closed",
      state_reason: "completed",
    });
  }

  /** The jobs of a run attempt with their steps. */
  async listRunJobs(runId: string, attempt: string): Promise<RunJob[]> {
    const data = await this.json(
      "GET",
      this.repo(`/actions/runs/${runId}/attempts/${attempt}/jobs?per_page=100`),
    );
    if (!isRecord(data) || !Array.isArray(data.jobs))
      throw new DeliveryError("GitHub API: no jobs in the run.");
    return data.jobs.filter(isRecord).map((job) => ({
      id: Number(job.id),
      name: String(job.name),
      conclusion: typeof job.conclusion === "string" ? job.conclusion : null,
      htmlUrl: String(job.html_url),
      steps: (Array.isArray(job.steps) ? job.steps : []).filter(isRecord).map((step) => ({
        name: String(step.name),
        conclusion: typeof step.conclusion === "string" ? step.conclusion : null,
        number: Number(step.number),
      })),
    }));
  }

  /**
   * Uploads a SARIF report to code scanning (`security-events: write`).
   * https://docs.github.com/en/rest/code-scanning/code-scanning#upload-an-analysis-as-sarif-data
   */
  async uploadSarif(request: {
    commitSha: string;
    ref: string;
    sarifGzipBase64: string;
  }): Promise<string> {
    const result = await this.json("POST", this.repo("/code-scanning/sarifs"), {
      commit_sha: request.commitSha,
      ref: request.ref,
      sarif: request.sarifGzipBase64,
    });
    return isRecord(result) && typeof result.id === "string" ? result.id : "";
  }

  /** The plain-text log of a job (the API redirects to a short-lived download URL). */
  async jobLog(jobId: number): Promise<string> {
    return (await this.request("GET", this.repo(`/actions/jobs/${jobId}/logs`))).text();
  }
}
