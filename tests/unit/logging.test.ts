import { describe, expect, it } from "vitest";
import { withoutPassword } from "../../api/logging.js";

describe("a URL as it is logged", () => {
  it("hides a password, and leaves a URL without one as it is", () => {
    expect(withoutPassword("redis://:s3cret@redis.internal:6379/0")).toBe("redis://:***@redis.internal:6379/0");
    expect(withoutPassword("redis://quire:s3cret@redis.internal:6379")).toBe("redis://quire:***@redis.internal:6379");
    expect(withoutPassword("redis://127.0.0.1:6380")).toBe("redis://127.0.0.1:6380");
    expect(withoutPassword("not a url s3cret")).not.toContain("s3cret");
  });
});
