// `npm start`: the whole stack in the foreground until Ctrl-C, for the app and for operators.
import { resolve } from "node:path";
import { defaultStackOptions } from "./stack/defaultStackOptions.js";
import { runInForeground } from "./stack/runInForeground.js";

const root = resolve(import.meta.dirname, "..");
await runInForeground(() => defaultStackOptions(root), async (stack) => {
  console.log(`
Quire is running. Ctrl-C stops everything.
  gateway:    ${stack.gatewayUrl}   (API: ${stack.gatewayUrl}/openapi.json, health: ${stack.gatewayUrl}/health)
  Prefect UI: ${stack.prefectUiUrl}
  runs:       ${stack.gatewayUrl}/orchestrator/runs
  logs:       ${stack.home}/logs/
`);
  return "keep";
});
