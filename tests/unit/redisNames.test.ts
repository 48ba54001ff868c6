import { describe, expect, it } from "vitest";
import { redisName } from "../../api/config/redisNames.js";

describe("redisName", () => {
  it("fills in the parts of a name shared with the Python side", () => {
    expect(redisName("standbyBell", { prefix: "quire", flowRunId: "fr-1" })).toBe("quire:standby:fr-1:bell");
    expect(redisName("stepQueue", { provider: "gemini" })).toBe("steps-gemini");
  });

  it("refuses a name whose part is missing, instead of writing a key nobody reads", () => {
    expect(() => redisName("hold", { prefix: "quire" })).toThrow(/hold needs a value for \{runId\}/);
  });
});
