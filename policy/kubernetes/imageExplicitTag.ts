// `latest` or no tag means the image changes under the same spec: no reproducible deploys or rollbacks.
import { resourceRule } from "../lib/define";
import { describeContainer, forEachContainer, isWorkload, parseImage } from "../lib/kubernetes";

export const imageExplicitTag = resourceRule({
  name: "k8s-image-explicit-tag",
  description: "Every container image names an explicit tag other than latest, or a digest.",
  appliesTo: isWorkload,
  check: (args) =>
    forEachContainer(args, (c) => {
      const image = c.container.image;
      // A non-string image is unknown at preview time: nothing to judge yet.
      if (typeof image !== "string") return [];
      const ref = parseImage(image);
      if (ref.digest !== undefined || (ref.tag !== undefined && ref.tag !== "latest")) return [];
      return [
        {
          field: `${c.path}.image`,
          problem: `${describeContainer(c)} uses image ${JSON.stringify(image)} ${ref.tag === "latest" ? "tagged latest" : "without a tag (implicitly latest)"}`,
          fix: `pin a version tag (e.g. "${ref.repository}:1.2.3") or a digest ("${ref.repository}@sha256:...")`,
        },
      ];
    }),
});
