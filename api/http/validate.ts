import type { z } from "zod";
import { InvalidInput } from "../errors.js";

/** Parses with zod or throws InvalidInput whose details list each issue with its path (e.g. idea.premise). */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: "body" | "query"): z.infer<S> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join(".") || "(root)", message: i.message }));
  throw new InvalidInput(`invalid ${where}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, { issues });
}
