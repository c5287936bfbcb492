/**
 * Customers: each gets an exclusive workspace (`api-<env>-<id>`) in every environment it is enabled
 * in, running the environment's image with its own overrides. This file validates the `customers`
 * block and resolves a customer's effective API settings; docs/customers.md explains the model.
 */
import { isIntIn, Issues } from "./rules";
import {
  ENVIRONMENTS,
  type ApiSettings,
  type CustomerConfig,
  type CustomerEnvironmentSettings,
  type EnvironmentName,
  type PlatformSettings,
} from "./types";
import { validateApi } from "./validate";

/**
 * Ids a customer may not take: Kubernetes' own namespaces, the platform's names, and the
 * environment names (a namespace `api-dev-prod` would read as an environment).
 */
export const RESERVED_CUSTOMER_IDS: readonly string[] = [
  "default",
  "kube-system",
  "kube-public",
  "kube-node-lease",
  "system",
  "shared",
  "bootstrap",
  "api",
  "deployers",
  ...ENVIRONMENTS,
];

/** Kubernetes namespace names are DNS labels of at most 63 characters (RFC 1123). */
const NAMESPACE_MAX = 63;

/**
 * Longest customer id: `api-<env>-<id>` must fit a namespace name in every environment.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-label-names
 */
export const MAX_CUSTOMER_ID_LENGTH =
  NAMESPACE_MAX - Math.max(...ENVIRONMENTS.map((env) => `api-${env}-`.length));

/** The namespace of a customer's workspace in an environment. */
export function customerNamespace(env: EnvironmentName, id: string): string {
  return `api-${env}-${id}`;
}

/** A customer enabled in one environment, with its overrides there. */
export interface EnabledCustomer {
  readonly customer: CustomerConfig;
  readonly overrides: CustomerEnvironmentSettings;
}

/** The customers enabled in `env`, in configuration order. */
export function enabledCustomers(
  customers: readonly CustomerConfig[] | undefined,
  env: EnvironmentName,
): EnabledCustomer[] {
  return (customers ?? []).flatMap((customer) => {
    const overrides = customer.environments[env];
    return overrides?.enabled ? [{ customer, overrides }] : [];
  });
}

/** The environment's API settings with a customer's overrides applied; the image tag is never overridden. */
export function customerApiSettings(
  base: ApiSettings,
  overrides: CustomerEnvironmentSettings,
): ApiSettings {
  const defined = <T extends object>(o: T | undefined): Partial<T> =>
    Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
  return {
    ...base,
    replicas: overrides.replicas ?? base.replicas,
    autoscaling: { ...base.autoscaling, ...defined(overrides.autoscaling) },
    resources: {
      requests: { ...base.resources.requests, ...defined(overrides.resources?.requests) },
      limits: { ...base.resources.limits, ...defined(overrides.resources?.limits) },
    },
  };
}

const CUSTOMER_KEYS = ["id", "displayName", "environments"];
const OVERRIDE_KEYS = ["enabled", "replicas", "autoscaling", "resources", "message", "hostname"];
const AUTOSCALING_KEYS = ["enabled", "minReplicas", "maxReplicas", "targetCpuUtilization"];
const QUANTITY_KEYS = ["cpu", "memory"];
/** Fields of the API settings a customer may override; issues on other fields are the environment's. */
const OVERRIDABLE = /^(replicas|autoscaling\.|resources\.)/;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** True when the text holds a C0 control character or DEL (the API refuses them in MESSAGE). */
function hasControlCharacter(text: string): boolean {
  return [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Records an issue for every key of `value` not in `allowed` (a misspelt override would be ignored). */
function checkKeys(value: unknown, allowed: readonly string[], at: string, issues: Issues): void {
  if (!isRecord(value)) return;
  for (const key of Object.keys(value)) {
    issues.check(
      allowed.includes(key),
      `${at}.${key}`,
      value[key],
      `unknown field: allowed are ${allowed.join(", ")}`,
    );
  }
}

/** True for a fully qualified DNS name: at least two labels, each a DNS label, 253 characters at most. */
export function isDnsName(value: unknown): boolean {
  if (typeof value !== "string" || value.length > 253) return false;
  const labels = value.split(".");
  return labels.length >= 2 && labels.every((l) => l.length <= 63 && DNS_LABEL.test(l));
}

/**
 * Validates `settings.customers`; every problem is added to `issues`, named
 * `customers[<id>].<field>` (or `customers[<index>]` when the id itself is unusable).
 */
export function validateCustomers(settings: PlatformSettings, issues: Issues): void {
  const customers = settings.customers;
  if (customers === undefined) return;
  if (
    !issues.check(
      Array.isArray(customers),
      "customers",
      customers,
      "allowed: a list of customers (empty for none)",
    )
  ) {
    return;
  }
  const seen = new Map<string, number>();
  const hostnames = new Map<string, string>();
  customers.forEach((customer: CustomerConfig, index) => {
    if (!issues.check(isRecord(customer), `customers[${index}]`, customer, "allowed: an object")) {
      return;
    }
    const id = customer.id;
    // A duplicate is named by its position, so each message points at one entry.
    const usableId = typeof id === "string" && id.length > 0 && !seen.has(id);
    const at = usableId ? `customers[${id}]` : `customers[${index}]`;
    checkKeys(customer, CUSTOMER_KEYS, at, issues);

    const idOk =
      issues.check(
        typeof id === "string" && DNS_LABEL.test(id) && id.length <= MAX_CUSTOMER_ID_LENGTH,
        `${at}.id`,
        id,
        `allowed: a DNS label of 1-${MAX_CUSTOMER_ID_LENGTH} lower-case letters, digits and hyphens, ` +
          `starting and ending with a letter or digit, so that api-<env>-<id> fits a namespace name (63)`,
      ) &&
      issues.check(
        !RESERVED_CUSTOMER_IDS.includes(id) && !id.startsWith("kube-"),
        `${at}.id`,
        id,
        `reserved: not one of ${RESERVED_CUSTOMER_IDS.join(", ")}, nor kube-*`,
      );
    if (idOk) {
      const first = seen.get(id);
      issues.check(
        first === undefined,
        `${at}.id`,
        id,
        `must be unique: customers[${first}] has the same id`,
      );
      if (first === undefined) seen.set(id, index);
    }
    issues.check(
      typeof customer.displayName === "string" &&
        customer.displayName.trim().length > 0 &&
        customer.displayName.length <= 64 &&
        !hasControlCharacter(customer.displayName),
      `${at}.displayName`,
      customer.displayName,
      "allowed: 1-64 printable characters",
    );

    const environments = customer.environments;
    if (
      !issues.check(
        isRecord(environments),
        `${at}.environments`,
        environments,
        `allowed: an object keyed by environment (${ENVIRONMENTS.join(", ")})`,
      )
    ) {
      return;
    }
    checkKeys(environments, ENVIRONMENTS, `${at}.environments`, issues);
    for (const env of ENVIRONMENTS) {
      const overrides = environments[env];
      if (overrides === undefined) continue;
      const envAt = `${at}.environments.${env}`;
      validateOverrides(settings, env, overrides, envAt, issues);
      if (overrides.enabled === true && overrides.hostname !== undefined) {
        const owner = hostnames.get(`${env}/${overrides.hostname}`);
        issues.check(
          owner === undefined,
          `${envAt}.hostname`,
          overrides.hostname,
          `must be unique within ${env}: ${owner} uses it too`,
        );
        hostnames.set(`${env}/${overrides.hostname}`, at);
      }
    }
  });
}

function validateOverrides(
  settings: PlatformSettings,
  env: EnvironmentName,
  overrides: CustomerEnvironmentSettings,
  at: string,
  issues: Issues,
): void {
  if (!issues.check(isRecord(overrides), at, overrides, "allowed: an object")) return;
  checkKeys(overrides, OVERRIDE_KEYS, at, issues);
  checkKeys(overrides.autoscaling, AUTOSCALING_KEYS, `${at}.autoscaling`, issues);
  checkKeys(overrides.resources, ["requests", "limits"], `${at}.resources`, issues);
  checkKeys(overrides.resources?.requests, QUANTITY_KEYS, `${at}.resources.requests`, issues);
  checkKeys(overrides.resources?.limits, QUANTITY_KEYS, `${at}.resources.limits`, issues);
  issues.check(
    typeof overrides.enabled === "boolean",
    `${at}.enabled`,
    overrides.enabled,
    "allowed: true or false",
  );
  if (overrides.message !== undefined) {
    issues.check(
      typeof overrides.message === "string" &&
        overrides.message.length <= 256 &&
        !hasControlCharacter(overrides.message),
      `${at}.message`,
      overrides.message,
      "allowed: at most 256 printable characters (no control characters)",
    );
  }
  if (overrides.hostname !== undefined) {
    issues.check(
      isDnsName(overrides.hostname),
      `${at}.hostname`,
      overrides.hostname,
      "allowed: a lower-case DNS name with at least two labels, such as acme.api.example.com",
    );
  }
  if (overrides.replicas !== undefined) {
    issues.check(
      isIntIn(overrides.replicas, 1, 100),
      `${at}.replicas`,
      overrides.replicas,
      "allowed: a whole number from 1 to 100",
    );
  }

  // The workspace's NetworkPolicy admits the public subnets only, where an internet-facing NLB
  // lives; an internal NLB (private subnets) or a ClusterIP Service could never reach the pods.
  const service = settings.environments?.[env]?.api?.service;
  if (overrides.enabled === true && service !== undefined) {
    issues.check(
      service.type === "LoadBalancer" && service.scheme === "internet-facing",
      `${at}.enabled`,
      overrides.enabled,
      `needs environments.${env}.api.service to be an internet-facing LoadBalancer ` +
        `(got ${service.type}, ${service.scheme}): workspaces admit traffic only from the public subnets`,
    );
  }

  // The merged settings must satisfy the environment's own rules (prod replicas >= 2, limits >=
  // requests, autoscaling bounds). Checked only when the environment itself is valid, so each
  // problem is reported once, where it was made.
  const base = settings.environments?.[env]?.api;
  if (base === undefined) return;
  const mutableTags = settings.shared?.mutableTags ?? [];
  const baseIssues = new Issues();
  validateApi(base, env, "", mutableTags, baseIssues);
  if (baseIssues.list.length > 0) return;
  const merged = new Issues();
  validateApi(customerApiSettings(base, overrides), env, at, mutableTags, merged);
  for (const issue of merged.list) {
    const field = issue.field.slice(at.length + 1);
    if (!OVERRIDABLE.test(field)) continue;
    const duplicate = issues.list.some((i) => i.field === issue.field && i.value === issue.value);
    if (!duplicate) issues.check(false, issue.field, issue.value, issue.allowed);
  }
}
