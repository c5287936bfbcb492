/**
 * Every name the platform derives from an environment, a customer, a colour or a workspace, in
 * one place: stacks, constructs, the delivery scripts, the rehearsal and the tests all build them
 * here, so that a namespace, a release or a label is spelt the same everywhere it is read.
 */
import type { Colour } from "./types";

/** The application's name: the prefix of its namespaces, releases and Kubernetes groups. */
export const APP = "api";

/** The namespace of an environment's own release: `api-<env>`. */
export function environmentNamespace(env: string): string {
  return `${APP}-${env}`;
}

/** The namespace of a customer's workspace in an environment: `api-<env>-<customer>`. */
export function customerNamespace(env: string, id: string): string {
  return `${environmentNamespace(env)}-${id}`;
}

/** The prefix every customer namespace of an environment starts with: `api-<env>-`. */
export function customerNamespacePrefix(env: string): string {
  return `${environmentNamespace(env)}-`;
}

/**
 * Namespaces an environment's deploy role may change: its own and its customers'
 * (`api-<env>-*`, the trailing `*` matching a prefix in an EKS access scope).
 */
export function environmentNamespaces(env: string): string[] {
  return [environmentNamespace(env), `${customerNamespacePrefix(env)}*`];
}

/** Kubernetes group of an environment's deploy role, on its EKS access entry. */
export function deployerGroup(env: string): string {
  return `${environmentNamespace(env)}-deployers`;
}

/** The ClusterRole (and its binding) that gives a namespace's deployers their cluster-scoped rights there. */
export function deployerRole(namespace: string): string {
  return `${namespace}-deployer`;
}

/** Node label that pins an environment's pods to its node group. */
export const WORKLOAD_ENV_LABEL = "workload-env";

/** The release of a rolling environment, and of each customer. */
export const ROLLING_RELEASE = APP;

/** The release of one colour of a blue/green environment: `api-blue` or `api-green`. */
export function colourRelease(colour: Colour): string {
  return `${APP}-${colour}`;
}

/** The other colour. */
export function otherColour(colour: Colour): Colour {
  return colour === "blue" ? "green" : "blue";
}

/** The stable Service of a blue/green environment, which selects the serving colour: `<release>-live`. */
export function liveService(releaseName: string = APP): string {
  return `${releaseName}-live`;
}

/** Terraform state key of a workspace: one key per workspace, never shared. */
export function stateKey(workspace: string): string {
  return `${workspace}/terraform.tfstate`;
}

/** The prefix of an environment's construct ids in `shared` (`dev` → `Dev`, `eu-prod` → `EuProd`). */
export function constructPrefix(env: string): string {
  return env
    .split("-")
    .map((part) => `${part.charAt(0).toUpperCase()}${part.slice(1)}`)
    .join("");
}
