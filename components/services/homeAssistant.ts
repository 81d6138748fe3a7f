// Home Assistant: only on the edge Pi.
import type { ServiceContext } from "./context.js";

export interface HomeAssistantSettings {
  enable: boolean;
  timeZone: string;
  unitSystem: string;
  extraComponents: string[];
}

export function homeAssistantSettings({ spec, isEdge }: ServiceContext): HomeAssistantSettings {
  const { homeAssistant } = spec.services;
  return {
    enable: homeAssistant.enabled && isEdge,
    timeZone: homeAssistant.timeZone,
    unitSystem: homeAssistant.unitSystem,
    extraComponents: [...homeAssistant.extraComponents],
  };
}

export function homeAssistantRoles(s: HomeAssistantSettings): string[] {
  return s.enable ? ["home-assistant"] : [];
}
