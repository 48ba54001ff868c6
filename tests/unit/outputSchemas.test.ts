import { describe, expect, it } from "vitest";
import { parseOutput } from "../../workers/outputSchemas.js";

const answer = JSON.stringify({ heading: "h", body: "b" }, null, 2);

describe("parseOutput", () => {
  it.each([
    ["bare JSON", answer],
    ["a fenced block", "```json\n" + answer + "\n```"],
    ["a fenced block and a trailing newline", "```json\n" + answer + "\n```\n"],
    ["a leading newline", "\n```json\n" + answer + "\n```"],
    ["an upper-case language tag", "```JSON\n" + answer + "\n```"],
    ["a fence without a language", "```\n" + answer + "\n```"],
    ["a line of text before the fence", "Here is the JSON you asked for:\n```json\n" + answer + "\n```"],
    ["text around bare JSON", "Sure. " + answer + " Hope this helps."],
  ])("finds the JSON in %s", (_, text) => {
    expect(parseOutput("text", text)).toEqual({ ok: true, content: { heading: "h", body: "b" } });
  });

  it("says an answer without JSON is not JSON", () => {
    const parsed = parseOutput("text", "I would rather write a poem.");
    expect(parsed).toMatchObject({ ok: false, error: expect.stringContaining("not JSON") });
  });

  it("names the failing paths of JSON that does not fit the kind", () => {
    const parsed = parseOutput("list", "```json\n" + JSON.stringify({ heading: "h", items: [] }) + "\n```");
    expect(parsed).toMatchObject({ ok: false, error: expect.stringContaining("items") });
  });
});
