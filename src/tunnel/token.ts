// Where the agent token comes from: the secret store ([tunnel] token_secret), else the signed-in account's access token.
import type { Services } from "../daemon/component.ts";
import { registerSecret } from "../core/log.ts";
import { secretEnvVar } from "../secrets/names.ts";

interface AuthLike {
  accessToken(): Promise<string | null>;
}

export async function agentToken(services: Services, secretName: string): Promise<{ token: string; source: "secret" | "auth" } | null> {
  let token: string | null = null;
  if (secretName) {
    token = services.secrets ? await services.secrets.get(secretName) : (process.env[secretEnvVar(secretName)] ?? null);
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
