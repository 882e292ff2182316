// `doctor`: checks what the desktop integration needs and prints a checklist with a fix for each failure.
import type { Command } from "./args.ts";

const command: Command = {
  name: "doctor",
  summary: "Check the desktop integration, upstreams, relay, systemd unit and config; print fixes",
  help: "Usage: cloudtolocalllm-tunnel doctor [--config FILE] [--json]",
  async run() {
    console.log("doctor: not implemented yet");
    return 1;
  },
};
export default command;
