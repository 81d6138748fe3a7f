// A tag can be moved to another image; only a digest names exact bytes. Level-agnostic: the per-stack
// config makes it mandatory in prod and disables it elsewhere.
import { resourceRule } from "../lib/define";
import { describeContainer, forEachContainer, isWorkload, parseImage, SHA256_DIGEST } from "../lib/kubernetes";

export const imageDigest = resourceRule({
  name: "k8s-image-digest",
  description: "Every container image is pinned by a sha256 digest (image@sha256:...).",
  appliesTo: isWorkload,
  check: (args) =>
    forEachContainer(args, (c) => {
      const image = c.container.image;
      if (typeof image !== "string") return [];
      const ref = parseImage(image);
      if (ref.digest !== undefined && SHA256_DIGEST.test(ref.digest)) return [];
      return [
        {
          field: `${c.path}.image`,
          problem: `${describeContainer(c)} uses image ${JSON.stringify(image)}, not pinned by a sha256 digest`,
          fix: `pin the digest of a released version: "${ref.repository}${ref.tag && ref.tag !== "latest" ? `:${ref.tag}` : ":<version>"}@sha256:<64 hex digits>" (from \`crane digest\` or the registry)`,
        },
      ];
    }),
});
