// Ollama's /api/show answer made from what an OpenAI-compatible server says of a model: its /v1/models entry (and the
// facts its kind reads there and in its showRead, src/kinds/); what no such server tells (Modelfile, template, format,
// family, architecture) is left empty.
import type { ModelFacts } from "../../../kinds/index.ts";

/** Ollama's /api/show body (its docs/api.md; the ollama npm client's ShowResponse). */
export interface OllamaShow {
  modelfile: string;
  parameters: string;
  template: string;
  details: { parent_model: string; format: string; family: string; families: string[]; parameter_size: string; quantization_level: string };
  model_info: Record<string, unknown>;
  capabilities: string[];
  modified_at?: string;
}

/** A parameter count as Ollama writes parameter_size (its format.HumanNumber): "8B", "1.5B", "137M", "22.50M". */
export function parameterSize(n: number): string {
  const scaled = (div: number, unit: string, decimals: number) => {
    const v = n / div;
    return (Number.isInteger(v) ? v.toFixed(0) : v.toFixed(decimals)) + unit;
  };
  if (n >= 1e9) return scaled(1e9, "B", 1);
  if (n >= 1e6) return scaled(1e6, "M", 2);
  if (n >= 1e3) return `${Math.round(n / 1e3)}K`;
  return String(n);
}

/**
 * The architecture written as model_info's general.architecture: none of the servers answered for says it, so empty,
 * as details.family. Written all the same: `ollama show` reads it as a string whenever model_info is present (and
 * fails without it), and Ollama's clients find the context at model_info["<architecture>.context_length"], which with
 * an empty architecture is ".context_length" (those that scan for a key ending in ".context_length" find it too).
 */
const ARCHITECTURE = "";

/** The facts of the entry and of the kind's showRead together: the server's own word on the context wins, capabilities add up. */
export function mergeFacts(entry: ModelFacts, server: ModelFacts): ModelFacts {
  const capabilities = [...new Set([...(entry.capabilities ?? []), ...(server.capabilities ?? [])])];
  const contextLength = server.contextLength ?? entry.contextLength;
  return {
    ...entry,
    ...(contextLength !== undefined ? { contextLength } : {}),
    ...(capabilities.length ? { capabilities } : {}),
  };
}

/**
 * The show body for one /v1/models `entry`. Capabilities: "completion", the one every chat model has, and those the
 * server states (vision, tools: llama.cpp's /props). The context the server runs it with is Ollama's num_ctx parameter
 * and model_info's context_length. `template` stays empty: a server's chat template is Jinja, Ollama's a Go template
 * that clients may send back to Ollama (ollama create, /api/generate's `template`).
 */
export function showFromEntry(entry: Record<string, unknown>, facts: ModelFacts): OllamaShow {
  const info: Record<string, unknown> = { "general.architecture": ARCHITECTURE };
  if (facts.parameterCount !== undefined) info["general.parameter_count"] = facts.parameterCount;
  if (facts.contextLength !== undefined) info[`${ARCHITECTURE}.context_length`] = facts.contextLength;
  const created = typeof entry.created === "number" && entry.created > 0 ? new Date(entry.created * 1000).toISOString() : null;
  return {
    modelfile: "",
    parameters: facts.contextLength !== undefined ? `num_ctx ${facts.contextLength}` : "",
    template: "",
    details: {
      parent_model: "",
      format: "",
      family: "",
      families: [],
      parameter_size: facts.parameterCount !== undefined ? parameterSize(facts.parameterCount) : "",
      quantization_level: "",
    },
    model_info: info,
    capabilities: ["completion", ...(facts.capabilities ?? [])],
    ...(created ? { modified_at: created } : {}),
  };
}
