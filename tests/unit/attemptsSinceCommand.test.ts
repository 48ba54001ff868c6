import { describe, expect, it } from "vitest";
import { attemptsSinceCommand } from "../../api/runs/attemptsSinceCommand.js";

const started = (stageId: string) => ({ type: "stage.started", stageId });
const event = (type: string) => ({ type });

describe("attemptsSinceCommand (what bounds the automatic restarts of a crashed stage)", () => {
  it("counts the stage's starts: the first, then each restart after a crash", () => {
    expect(attemptsSinceCommand([event("run.started"), started("idea_intake"), started("structure"), started("structure")], "structure")).toBe(2);
  });

  it("starts counting again after a resume or a rollback, whatever the attempt numbers have reached", () => {
    const crashedThrice = [started("structure"), started("structure"), started("structure"), started("structure"), event("run.failed")];
    expect(attemptsSinceCommand([...crashedThrice, event("run.resumed"), started("structure")], "structure")).toBe(1);
    expect(attemptsSinceCommand([...crashedThrice, event("run.rolled_back"), started("idea_intake"), started("structure"), started("structure")], "structure")).toBe(2);
  });

  it("is at least 1: a resume that let the stage's flow run go on started nothing new", () => {
    expect(attemptsSinceCommand([started("structure"), event("run.paused"), event("run.resumed")], "structure")).toBe(1);
  });
});
