// Ollama's /api/show answer made from what an OpenAI-compatible server says of a model: its /v1/models entry (and the
// facts its kind reads there, src/kinds/); what no such server tells (Modelfile, template, format, family) is left empty.
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
 * The show body for one /v1/models `entry`. Capabilities: "completion" only, the one every chat model has (whether it
 * takes tools or images no OpenAI listing says). The context the server runs it with is Ollama's num_ctx parameter.
 */
export function showFromEntry(entry: Record<string, unknown>, facts: ModelFacts): OllamaShow {
  const info: Record<string, unknown> = {};
  if (facts.parameterCount !== undefined) info["general.parameter_count"] = facts.parameterCount;
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
    capabilities: ["completion"],
    ...(created ? { modified_at: created } : {}),
  };
}
