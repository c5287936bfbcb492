/**
 * The synth benchmark with customers: the committed settings plus 20 generated customers, each
 * enabled in dev and prod, synthesized the same way as the real app (`npx cdktf synth`). Compare
 * it with `bench/floor` like the main case.
 */
import { ConfigError, loadConfig, type CustomerConfig } from "../../config";
import { settings } from "../../config/settings";
import { buildApp } from "../../stacks/app";

/** How many customers the benchmark configures. */
const CUSTOMERS = 20;

const customers: CustomerConfig[] = Array.from({ length: CUSTOMERS }, (_, i) => {
  const id = `customer-${String(i + 1).padStart(2, "0")}`;
  return {
    id,
    displayName: `Customer ${i + 1}`,
    environments: {
      dev: { enabled: true, message: `Hello, ${id}` },
      prod: { enabled: true, hostname: `${id}.api.example.com` },
    },
  };
});

try {
  buildApp(loadConfig(process.env, { ...settings, customers })).synth();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
