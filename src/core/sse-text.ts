// One Server-Sent Event as text: the one encoder of the events the broker writes itself (errors, translated streams).

/** `event: NAME` (when named) and one `data:` line (a string as it is, anything else as JSON), then the blank line. */
export function sseText(event: string, data: unknown): string {
  return `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
}
