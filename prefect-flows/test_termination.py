"""A flow process's last words on SIGTERM, through Prefect's own SIGTERM handling, in a real child process."""

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest

# The child: our handler installed first (as warm_zygote.py does), then Prefect's `capture_sigterm` around
# the "engine", and the callback registered from another thread (the flow's code runs in Prefect's loop
# thread), its block still running, left by an exception, or ended normally.
CHILD = textwrap.dedent(
    """
    import sys, threading, time
    import termination
    from prefect.utilities.engine import capture_sigterm

    said, handler, block = sys.argv[1:4]

    def last_words():
        with open(said, "w") as f:
            f.write("stopped")

    if handler == "install":
        termination.install()
    ready = threading.Event()
    def flow_code():
        try:
            with termination.on_termination(last_words):
                if block == "raised":  # as Prefect cancels the flow's code on SIGTERM, before our handler runs
                    raise RuntimeError("cancelled")
                if block == "held":
                    ready.set()
                    time.sleep(60)
        except RuntimeError:
            pass
        ready.set()
    threading.Thread(target=flow_code, daemon=True).start()
    ready.wait()
    with capture_sigterm():
        print("ready", flush=True)
        time.sleep(60)
    """
)


class LastWords(unittest.TestCase):
    def run_child(self, handler: str, block: str) -> tuple[int, str]:
        with tempfile.TemporaryDirectory() as home:
            said = os.path.join(home, "said")
            env = {**os.environ, "PREFECT_HOME": home}
            child = subprocess.Popen([sys.executable, "-c", CHILD, said, handler, block], cwd=os.path.dirname(__file__), env=env, stdout=subprocess.PIPE, text=True)
            self.assertEqual(child.stdout.readline().strip(), "ready")
            child.send_signal(signal.SIGTERM)
            code = child.wait(timeout=30)
            child.stdout.close()
            if not os.path.exists(said):
                return code, ""
            with open(said) as words:
                return code, words.read()

    def test_the_callbacks_run_after_prefects_handler_and_the_process_still_dies_of_the_signal(self):
        self.assertEqual(self.run_child("install", "held"), (-signal.SIGTERM, "stopped"))

    def test_a_block_left_by_an_exception_still_says_its_words(self):
        self.assertEqual(self.run_child("install", "raised"), (-signal.SIGTERM, "stopped"))

    def test_a_block_that_ended_normally_says_nothing(self):
        self.assertEqual(self.run_child("install", "left"), (-signal.SIGTERM, ""))

    def test_without_the_handler_nothing_is_said(self):
        self.assertEqual(self.run_child("none", "held"), (-signal.SIGTERM, ""))


if __name__ == "__main__":
    unittest.main()
