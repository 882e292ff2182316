// The refusal of a sign-in before it starts because its tokens could not be kept (a locked keyring): one sentence for the CLI, the API and the tray.
import type { CodeOf } from "../core/error-codes.ts";

/**
 * A grant made and then not stored leaves a live refresh token at the issuer that nothing holds, after the user went
 * through the whole sign-in: `login`, `POST /api/v1/auth/login` and the tray's "Sign in…" refuse first, saying why.
 */
export class SignInNotStorableError extends Error {
  override name = "SignInNotStorableError";
  readonly code: CodeOf<"SignInNotStorableError"> = "tokens_not_storable";
  constructor(reason: string) {
    super(`nothing was signed in: the tokens could not be stored: ${reason}`);
  }
}
