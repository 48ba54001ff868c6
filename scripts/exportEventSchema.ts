// Writes docs/events.schema.json from the zod schema of progress events (api/events/progressEvent.ts).
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { progressEventJsonSchema } from "../api/events/progressEvent.js";

const file = resolve(import.meta.dirname, "../docs/events.schema.json");
writeFileSync(file, `${JSON.stringify(progressEventJsonSchema(), null, 2)}\n`);
console.log(`wrote ${file}`);
