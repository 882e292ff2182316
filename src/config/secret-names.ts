// Secret names: what a valid name is and which environment variable overrides it.
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Throws a one-sentence error when `name` cannot be a secret name. */
export function checkSecretName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new Error(`"${name}" is not a valid secret name: use letters, digits, ".", "_" and "-" (at most 128 characters).`);
  }
  return name;
}

/** CLOUDTOLOCALLLM_SECRET_<NAME upper, non-alnum → _>, e.g. tunnel-token → CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN. */
export function secretEnvVar(name: string): string {
  return `CLOUDTOLOCALLLM_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}
