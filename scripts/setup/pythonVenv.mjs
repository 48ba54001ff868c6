// .venv with the pinned Prefect: made with Python 3.11, installed from prefect-flows/requirements.txt, and
// exactly those pins (a hash of the file says which were installed; a pin removed is uninstalled).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { aptInstall } from "./debian.mjs";
import { adviceFor, fail, onPath, requireFreeSpace, run, say } from "./report.mjs";

// The only Python the pins install on: on 3.10 several pins (dnspython, regex, rpds-py, ...) need 3.11; on 3.12
// Prefect 2.20 asks for pendulum 3 while the pins hold pendulum 2.1 (what it asks for below 3.12).
const PYTHON = "3.11";
const notWritable = "this user may not write .venv: run as the owner of the checkout, or fix its permissions, and run again";

/** "3.11" for a Python that runs; otherwise why not (missing, a broken link, or its own error). */
function pythonVersion(cmd) {
  const r = spawnSync(cmd, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" });
  if (r.status === 0) return { version: r.stdout.trim() };
  return { error: r.error ? r.error.message : (r.stderr ?? "").trim().split("\n").pop() || `exit ${r.status}` };
}

function findPython() {
  const candidates = [`python${PYTHON}`, "python3"];
  const found = candidates.map((cmd) => ({ cmd, ...pythonVersion(cmd), onPath: onPath(cmd) }));
  const fit = found.find((p) => p.version === PYTHON);
  if (fit) return fit.cmd;
  const seen = found.filter((p) => p.onPath).map((p) => (p.version ? `${p.cmd} is ${p.version}` : `${p.cmd} is on the PATH but does not run: ${p.error}`));
  fail("Python", `no working Python ${PYTHON} on PATH${seen.length ? ` (${seen.join("; ")})` : ""}; the pinned Prefect and its dependencies install on ${PYTHON} only`, `install Python ${PYTHON} as python${PYTHON} (Debian 12: apt-get install python3 python3-venv; elsewhere e.g. pyenv install ${PYTHON}) and run again`);
}

/** Why an existing .venv cannot be used (e.g. made half-way, or with another Python), or null. */
function venvProblem(python) {
  const { version, error } = pythonVersion(python);
  if (!version) return `.venv/bin/python does not run: ${error}`;
  if (version !== PYTHON) return `it was made with Python ${version}, the pins need ${PYTHON}`;
  if (spawnSync(python, ["-m", "pip", "--version"], { stdio: "ignore" }).status !== 0) return "it has no working pip (made half-way, e.g. without python3-venv)";
  return null;
}

/** Empties `dir` rather than removing it: .venv may be a mount point (a volume in a dev container). */
function emptyDir(dir) {
  try {
    mkdirSync(dir, { recursive: true });
    for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
  } catch (err) {
    fail("python venv", `could not clear ${dir}: ${err.message}`, notWritable);
  }
}

/** Installed distributions that no pin names (PEP 503 names), but pip's own tools. */
export function packagesBeyondPins(freezeOutput, requirementsText) {
  const norm = (name) => name.toLowerCase().replace(/[-_.]+/g, "-");
  const nameOf = (line) => /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:==|@)/.exec(line.trim())?.[1];
  const pinned = new Set(requirementsText.split("\n").map(nameOf).filter(Boolean).map(norm));
  const tools = new Set(["pip", "setuptools", "wheel"]);
  return freezeOutput.split("\n").map(nameOf).filter(Boolean).filter((n) => !pinned.has(norm(n)) && !tools.has(norm(n)));
}

function makeVenv(root, venv, python, problem) {
  const base = findPython();
  say(problem === "missing" ? `python venv: creating .venv with ${base} ...` : `python venv: .venv is unusable: ${problem}; rebuilding it with ${base} ...`);
  emptyDir(venv);
  let r = run(base, ["-m", "venv", venv], { cwd: root });
  // Debian's system Python makes a venv without pip unless python3-venv is installed: install it, once.
  if (!r.ok && /ensurepip/.test(r.out) && base.startsWith("python") && spawnSync(base, ["-c", "import sys; assert sys.prefix == '/usr'"]).status === 0) {
    aptInstall("python venv module", [`python${PYTHON}-venv`], `install it: sudo apt-get install python${PYTHON}-venv`);
    emptyDir(venv);
    r = run(base, ["-m", "venv", venv], { cwd: root });
  }
  const still = r.ok ? venvProblem(python) : null;
  if (!r.ok || still) fail("python venv", r.ok ? `.venv was made, but ${still}` : r.what, adviceFor(r.out, { otherwise: "install the venv module (Debian: apt-get install python3-venv) and run again; the half-made .venv is rebuilt then" }));
}

export function ensureVenv(root) {
  const venv = join(root, ".venv");
  const requirements = join(root, "prefect-flows", "requirements.txt");
  const pins = readFileSync(requirements, "utf8");
  const hash = createHash("sha256").update(pins).digest("hex");
  const stamp = join(venv, ".quire-requirements.sha256");
  const python = join(venv, "bin", "python");
  const problem = existsSync(venv) ? venvProblem(python) : "missing";
  if (!problem && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === hash) {
    say("python venv (.venv, pinned Prefect): in place");
    return;
  }
  requireFreeSpace("python venv", root, 500);
  if (problem) makeVenv(root, venv, python, problem);
  // The stamp goes first: a pip stopped half-way must not leave an old stamp that matches the old pins.
  try {
    rmSync(stamp, { force: true });
  } catch (err) {
    fail("python venv", `could not remove ${stamp}: ${err.message}`, notWritable);
  }
  say("python venv: installing prefect-flows/requirements.txt (Prefect 2.20.25 and its pins) ...");
  const r = run(python, ["-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", requirements], { cwd: root });
  if (!r.ok) {
    const otherwise = "read pip's messages. A build error means a package has no wheel for this platform and needs a compiler (Debian: apt-get install build-essential python3-dev); then run again";
    fail("pip install -r prefect-flows/requirements.txt", r.what, adviceFor(r.out, { stopped: r.stopped, otherwise }));
  }
  // Exactly the pins: a pin removed from the file leaves the venv too, as a fresh machine would not have it.
  const extras = packagesBeyondPins(run(python, ["-m", "pip", "freeze", "--disable-pip-version-check"], { cwd: root, capture: true }).out, pins);
  if (extras.length) {
    say(`python venv: removing what no pin names any more: ${extras.join(", ")}`);
    const u = run(python, ["-m", "pip", "uninstall", "-y", "-q", "--disable-pip-version-check", ...extras], { cwd: root });
    if (!u.ok) fail("pip uninstall", u.what, adviceFor(u.out, { stopped: u.stopped, otherwise: "delete .venv and run again" }));
  }
  const check = run(python, ["-c", "import prefect, bullmq, prefect.server.api.server; print(prefect.__version__)"], { cwd: root, capture: true });
  if (!check.ok) fail("import prefect", check.what, "delete .venv and run again");
  try {
    writeFileSync(stamp, `${hash}\n`);
  } catch (err) {
    fail("python venv", `could not write ${stamp}: ${err.message}`, notWritable);
  }
  say(`python venv: prefect ${check.out.split("\n").pop()} ready`);
}
