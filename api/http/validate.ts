import type { z } from "zod";
import { InvalidInput } from "../errors.js";

/** Parses with zod or throws InvalidInput whose details list each issue with its path (e.g. idea.premise). */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: "body" | "query"): z.infer<S> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const at = (path: PropertyKey[]) => path.map(String).join(".") || "(root)";
  // An unknown key is named where it is (idea.subtitle), not at the object that holds it.
  const issues = parsed.error.issues.flatMap((i) =>
    i.code === "unrecognized_keys" ? i.keys.map((key) => ({ path: at([...i.path, key]), message: `unknown field "${key}"` })) : [{ path: at(i.path), message: i.message }],
  );
  throw InvalidInput.fromIssues(issues, `invalid ${where}: `);
}
