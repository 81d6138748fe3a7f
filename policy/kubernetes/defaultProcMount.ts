// The default /proc mount masks and read-only paths hide the node's kernel knobs; Unmasked exposes
// them (PSS "/proc Mount Type"; restricted allows only Default, even in a user namespace).
import { resourceRule } from "../lib/define";
import { describeContainer, forEachContainer, isWorkload } from "../lib/kubernetes";

export const defaultProcMount = resourceRule({
  name: "k8s-default-proc-mount",
  description: "No container of a workload sets securityContext.procMount to anything but Default (the masked /proc).",
  appliesTo: isWorkload,
  check: (args) =>
    forEachContainer(args, (c) => {
      const value = c.container.securityContext?.procMount;
      if (value === undefined || value === null || value === "Default") return [];
      return [
        {
          field: `${c.path}.securityContext.procMount`,
          problem: `${describeContainer(c)} mounts /proc as ${JSON.stringify(value)}, without the default masks`,
          fix: 'remove securityContext.procMount (or set it to "Default")',
        },
      ];
    }),
});
