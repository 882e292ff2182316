// Where the agent token comes from: the secret store ([tunnel] token_secret), else the signed-in account's access token.
import type { Services } from "../core/component.ts";
import { registerSecret } from "../core/log.ts";

interface AuthLike {
  accessToken(): Promise<string | null>;
}

export async function agentToken(services: Services, secretName: string): Promise<{ token: string; source: "secret" | "auth" } | null> {
  let token: string | null = null;
  if (secretName) {
    // The store answers environment overrides too (CLOUDTOLOCALLLM_SECRET_<NAME>); the secrets component always publishes one.
    token = (await services.secrets?.get(secretName)) ?? null;
  }
  if (token) {
    registerSecret(token);
    return { token, source: "secret" };
  }
  const auth = services.auth as AuthLike | undefined;
  const access = auth ? await auth.accessToken() : null;
  if (access) {
    registerSecret(access);
    return { token: access, source: "auth" };
  }
  return null;
}
