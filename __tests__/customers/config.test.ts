import { describe, expect, it } from "vitest";
import { ConfigError, type CustomerConfig, type PlatformSettings } from "../../config";
import {
  customerApiSettings,
  enabledCustomers,
  MAX_CUSTOMER_ID_LENGTH,
} from "../../config/customers";
import { customerNamespace } from "../../config/names";
import { configFrom, settingsCopy } from "../helpers/synth";

/** Settings with these customers; `customers` is typed loosely so bad shapes can be written. */
function withCustomers(customers: unknown[]): PlatformSettings {
  return { ...settingsCopy(), customers: customers as CustomerConfig[] };
}

/** The problems a configuration is refused with, as `field: message` lines. */
function problems(settings: PlatformSettings): string[] {
  try {
    configFrom(settings);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => `${i.field}: ${i.allowed}`);
  }
  return [];
}

const acme = (environments: CustomerConfig["environments"]): CustomerConfig => ({
  id: "acme",
  displayName: "Acme Corp",
  environments,
});

describe("customers in the configuration", () => {
  it("accepts two customers and resolves each one's settings from its environment", () => {
    const config = configFrom(
      withCustomers([
        acme({ dev: { enabled: true, replicas: 3 }, prod: { enabled: true } }),
        { id: "globex", displayName: "Globex", environments: { dev: { enabled: true } } },
      ]),
    );
    expect(enabledCustomers(config.customers, "dev").map((c) => c.customer.id)).toEqual([
      "acme",
      "globex",
    ]);
    expect(enabledCustomers(config.customers, "prod").map((c) => c.customer.id)).toEqual(["acme"]);
    const [devAcme] = enabledCustomers(config.customers, "dev");
    const merged = customerApiSettings(config.environments.dev.api, devAcme.overrides);
    expect(merged).toEqual({ ...config.environments.dev.api, replicas: 3 });
  });

  it("leaves the committed configuration without customers", () => {
    expect(configFrom().customers).toEqual([]);
  });

  it("merges partial overrides field by field and never changes the image tag", () => {
    const base = configFrom().environments.prod.api;
    const merged = customerApiSettings(base, {
      enabled: true,
      autoscaling: { maxReplicas: 20 },
      resources: { limits: { memory: "1Gi" } },
    });
    expect(merged.autoscaling).toEqual({ ...base.autoscaling, maxReplicas: 20 });
    expect(merged.resources).toEqual({
      requests: base.resources.requests,
      limits: { cpu: base.resources.limits.cpu, memory: "1Gi" },
    });
    expect(merged.imageTag).toBe(base.imageTag);
  });

  it("keeps the longest id within a namespace name in every environment", () => {
    const id = "a".repeat(MAX_CUSTOMER_ID_LENGTH);
    expect(customerNamespace("prod", id)).toHaveLength(63);
    expect(problems(withCustomers([{ ...acme({ dev: { enabled: true } }), id }]))).toEqual([]);
  });
});

describe("bad customer configurations are refused, naming the customer and the field", () => {
  const cases: Array<[string, unknown[], string[]]> = [
    [
      "an id that is not a DNS label",
      [{ ...acme({}), id: "Acme_Corp" }],
      ["customers[Acme_Corp].id: allowed: a DNS label of 1-54 lower-case letters"],
    ],
    [
      "an id too long for api-<env>-<id>",
      [{ ...acme({}), id: "a".repeat(MAX_CUSTOMER_ID_LENGTH + 1) }],
      [`customers[${"a".repeat(55)}].id: allowed: a DNS label of 1-54`],
    ],
    [
      "a reserved id",
      [{ ...acme({}), id: "kube-system" }],
      ["customers[kube-system].id: reserved: not one of default, kube-system"],
    ],
    ["an environment name as id", [{ ...acme({}), id: "prod" }], ["customers[prod].id: reserved"]],
    [
      "a duplicate id",
      [acme({}), { ...acme({}), displayName: "Acme again" }],
      ["customers[1].id: must be unique: customers[0] has the same id"],
    ],
    ["an empty display name", [{ ...acme({}), displayName: " " }], ["customers[acme].displayName"]],
    [
      "an unknown environment",
      [acme({ staging: { enabled: true } } as CustomerConfig["environments"])],
      ["customers[acme].environments.staging: unknown field: allowed are dev, prod"],
    ],
    [
      "a misspelt override",
      [acme({ dev: { enabled: true, replica: 3 } as never })],
      ["customers[acme].environments.dev.replica: unknown field"],
    ],
    [
      "one replica in prod",
      [acme({ prod: { enabled: true, replicas: 1, autoscaling: { enabled: false } } })],
      [
        "customers[acme].environments.prod.replicas: allowed: 2-100 (prod runs at least 2 replicas)",
      ],
    ],
    [
      "a limit below the environment's request",
      [acme({ prod: { enabled: true, resources: { limits: { cpu: "100m" } } } })],
      [
        "customers[acme].environments.prod.resources.limits.cpu: must be at least the request (250m)",
      ],
    ],
    [
      "autoscaling bounds reversed",
      [acme({ dev: { enabled: true, autoscaling: { minReplicas: 4, maxReplicas: 3 } } })],
      [
        "customers[acme].environments.dev.autoscaling.minReplicas: must not exceed",
        "customers[acme].environments.dev.replicas: allowed: within the autoscaling bounds [4, 3]",
      ],
    ],
    [
      "replicas outside the autoscaling bounds",
      [acme({ dev: { enabled: true, replicas: 9 } })],
      ["customers[acme].environments.dev.replicas: allowed: within the autoscaling bounds [2, 4]"],
    ],
    [
      "a hostname that is not a DNS name",
      [acme({ dev: { enabled: true, hostname: "https://acme.example.com" } })],
      ["customers[acme].environments.dev.hostname: allowed: a lower-case DNS name"],
    ],
    [
      "two customers on one hostname",
      [
        acme({ dev: { enabled: true, hostname: "api.example.com" } }),
        {
          id: "globex",
          displayName: "Globex",
          environments: { dev: { enabled: true, hostname: "api.example.com" } },
        },
      ],
      ["customers[globex].environments.dev.hostname: must be unique within dev: customers[acme]"],
    ],
    [
      "a message with a control character",
      [acme({ dev: { enabled: true, message: "hi\nthere" } })],
      ["customers[acme].environments.dev.message: allowed: at most 256 printable characters"],
    ],
    [
      "enabled missing",
      [acme({ dev: { replicas: 2 } as never })],
      ["customers[acme].environments.dev.enabled: allowed: true or false"],
    ],
  ];

  it("an environment whose Service the workspace policy could not admit", () => {
    const settings = withCustomers([acme({ dev: { enabled: true }, prod: { enabled: false } })]);
    const dev = settings.environments.dev;
    const internal = {
      ...settings,
      environments: {
        ...settings.environments,
        dev: { ...dev, api: { ...dev.api, service: { ...dev.api.service, scheme: "internal" } } },
      },
    } as PlatformSettings;
    expect(problems(internal)).toEqual([
      "customers[acme].environments.dev.enabled: needs environments.dev.api.service to be an " +
        "internet-facing LoadBalancer (got LoadBalancer, internal): workspaces admit traffic only " +
        "from the public subnets",
    ]);
  });

  it.each(cases)("%s", (_name, customers, expected) => {
    const found = problems(withCustomers(customers));
    expect(found).toHaveLength(expected.length);
    expected.forEach((line, i) => expect(found[i]).toContain(line));
  });

  it("reports every problem at once", () => {
    const found = problems(withCustomers(cases.flatMap(([, customers]) => customers.slice(-1))));
    expect(found.length).toBeGreaterThanOrEqual(cases.length - 2);
    expect(() => configFrom(withCustomers([{ ...acme({}), id: "API" }]))).toThrow(
      /invalid configuration \(1 problem\):\n {2}- customers\[API\]\.id: got "API"/,
    );
  });
});
