// Reads the Markdown profile Bun's --cpu-prof-md writes: the functions that took the most samples.

/**
 * The hottest functions by samples in them. Not the profile's own "self time" column: Bun charges each sample with the
 * time until the next one, so a function sampled just before the thread went idle gets the idle time too (one sample of
 * module code showed as 270 ms); sample counts are what the CPU actually did.
 */
export function topBySamples(text: string, root: string, rows = 30): string {
  const details = text.slice(text.indexOf("## Function Details"));
  const found = [...details.matchAll(/### `([^`]*)`\n`([^`]*)` \| Self: [^|]*\| Total: ([0-9.]+)% [^|]*\| Samples: (\d+)/g)].map((m) => ({
    name: m[1]!,
    where: m[2]!.split(`${root}/`).join(""),
    total: Number(m[3]),
    samples: Number(m[4]),
  }));
  const all = found.reduce((n, f) => n + f.samples, 0);
  if (!all) throw new Error("the profile has no function details");
  found.sort((a, b) => b.samples - a.samples);
  return [
    `${all} samples (1 ms).`,
    "",
    "| samples | share | total % (as Bun reports it) | function | location |",
    "|---:|---:|---:|---|---|",
    ...found.slice(0, rows).map((f) => `| ${f.samples} | ${((100 * f.samples) / all).toFixed(1)}% | ${f.total.toFixed(1)}% | \`${f.name}\` | \`${f.where}\` |`),
  ].join("\n");
}

