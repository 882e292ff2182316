// The chat page's files as served: HTML shell, script and style bundled at build time (a Bun macro), so the binary
// carries them and the page loads nothing from another host.
import { bundleChatPage } from "./chat-build.ts" with { type: "macro" };

const bundle = bundleChatPage();

export const CHAT_JS: string = bundle.js;
export const CHAT_CSS: string = bundle.css;
export const CHAT_VERSION: string = bundle.version;
export const CHAT_HTML: string = bundle.html.replaceAll("{{VERSION}}", bundle.version);
