/**
 * Customers: each gets an exclusive workspace (`api-<env>-<id>`) in every environment it is enabled
 * in, running the environment's image with its own overrides. This file holds the customer model
 * (names, reserved ids, how overrides merge); `schema.ts` validates the `customers` block with it,
 * and docs/customers.md explains the model.
 */
import {
  ENVIRONMENTS,
  type ApiSettings,
  type CustomerConfig,
  type CustomerEnvironmentSettings,
  type EnvironmentName,
} from "./types";
import { customerNamespacePrefix } from "./names";

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
  NAMESPACE_MAX - Math.max(...ENVIRONMENTS.map((env) => customerNamespacePrefix(env).length));

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

/** A DNS label (RFC 1123), without the length limit. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** True when the text holds a C0 control character or DEL (the API refuses them in MESSAGE). */
export function hasControlCharacter(text: string): boolean {
  return [...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
}

/** True for a fully qualified DNS name: at least two labels, each a DNS label, 253 characters at most. */
export function isDnsName(value: unknown): boolean {
  if (typeof value !== "string" || value.length > 253) return false;
  const labels = value.split(".");
  return labels.length >= 2 && labels.every((l) => l.length <= 63 && DNS_LABEL.test(l));
}

/**
 * How problems name each entry of `customers`: `customers[<id>]`, or `customers[<index>]` when the
 * id is not a non-empty string or an earlier entry has it (so each message points at one entry).
 */
export function customerLabels(customers: unknown): string[] {
  if (!Array.isArray(customers)) return [];
  const seen = new Set<unknown>();
  return customers.map((customer: unknown, index) => {
    const id = (customer as { id?: unknown } | null)?.id;
    const usable = typeof id === "string" && id.length > 0 && !seen.has(id);
    seen.add(id);
    return `customers[${usable ? id : index}]`;
  });
}
