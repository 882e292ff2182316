// The daemon's components in start order (stopped in reverse); each feature adds its factory here.
import type { ComponentFactory } from "./component.ts";
import { createApiComponent } from "../api/component.ts";

export const COMPONENTS: ComponentFactory[] = [
  // The API starts last so that /readyz never reports components that are not there yet.
  createApiComponent,
];
