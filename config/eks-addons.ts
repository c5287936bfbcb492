/**
 * The EKS add-ons the shared stack installs, and the version of each it pins per Kubernetes minor.
 * A version EKS picks by itself changes under a running cluster without a plan showing it; a pinned
 * one changes only in a commit. Every pin is listed, with its source, in the support table
 * (`scripts/delivery/support-dates.ts`, rendered as `docs/support-dates.md`); a test fails for a pin
 * the table does not list for that add-on and cluster version.
 */
import { SUPPORTED_KUBERNETES_VERSIONS, type KubernetesVersion } from "./types";

/** The add-ons of the shared stack's cluster, by their EKS add-on names. */
export const EKS_ADDONS = ["vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns"] as const;
/** An EKS add-on the shared stack installs. */
export type EksAddonName = (typeof EKS_ADDONS)[number];

/**
 * The pinned add-on versions for each Kubernetes minor the configuration accepts. EKS upgrades a
 * cluster one minor at a time, and the add-ons follow each step, so every accepted minor has its own.
 */
export const EKS_ADDON_VERSIONS: Readonly<
  Record<KubernetesVersion, Readonly<Record<EksAddonName, string>>>
> = {
  "1.34": {
    "vpc-cni": "v1.22.2-eksbuild.1",
    "kube-proxy": "v1.34.6-eksbuild.13",
    "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
    coredns: "v1.13.2-eksbuild.11",
  },
  "1.35": {
    "vpc-cni": "v1.22.2-eksbuild.1",
    "kube-proxy": "v1.35.3-eksbuild.13",
    "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
    coredns: "v1.14.3-eksbuild.3",
  },
  "1.36": {
    "vpc-cni": "v1.22.4-eksbuild.3",
    "kube-proxy": "v1.36.0-eksbuild.14",
    "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
    coredns: "v1.14.3-eksbuild.3",
  },
};

/** The pinned version of an add-on for a cluster's Kubernetes minor. */
export function addonVersion(kubernetesVersion: string, addon: EksAddonName): string {
  const pins = (EKS_ADDON_VERSIONS as Partial<Record<string, Record<EksAddonName, string>>>)[
    kubernetesVersion
  ];
  if (!pins) {
    throw new Error(
      `no EKS add-on versions are pinned for Kubernetes ${kubernetesVersion}: allowed are ${SUPPORTED_KUBERNETES_VERSIONS.join(", ")} (config/eks-addons.ts)`,
    );
  }
  return pins[addon];
}
