"""Unit tests of the flow's own logic (no server): `.venv/bin/python -m unittest discover -s prefect-flows`."""

import unittest
from types import SimpleNamespace

from redis_names import redis_name
from run_stage import PERMANENT_MARK, QUEUE_PREFIX, hold_key, is_retryable, job_id, next_step_index, queue_name

STEPS = [{"stepId": s} for s in ["S1", "S2", "S3", "S4"]]
LOOP = {"from": "S2", "to": "S3", "until": "final", "maxIterations": 3}


class NextStepIndex(unittest.TestCase):
    def test_goes_on_without_a_loop(self):
        self.assertEqual(next_step_index(STEPS, 0, 1, None, {}), (1, 1))

    def test_repeats_the_loop_while_the_review_is_not_final(self):
        self.assertEqual(next_step_index(STEPS, 2, 1, LOOP, {"content": {"final": False}}), (1, 2))

    def test_leaves_the_loop_when_the_review_is_final(self):
        self.assertEqual(next_step_index(STEPS, 2, 1, LOOP, {"content": {"final": True}}), (3, 1))

    def test_stops_repeating_at_max_iterations(self):
        self.assertEqual(next_step_index(STEPS, 2, 3, LOOP, {"content": {"final": False}}), (3, 3))

    def test_only_the_loops_last_step_can_jump_back(self):
        self.assertEqual(next_step_index(STEPS, 1, 1, LOOP, {"content": {"final": False}}), (2, 1))


class Naming(unittest.TestCase):
    def test_shared_redis_names_come_from_the_one_declaration(self):
        self.assertEqual(hold_key("run-1"), f"{QUEUE_PREFIX}:hold:run-1")
        self.assertEqual(redis_name("standbyBell", prefix="p", flowRunId="fr"), "p:standby:fr:bell")
        with self.assertRaises(KeyError):
            redis_name("hold", prefix="p")

    def test_job_ids_are_deterministic_and_free_of_colons(self):
        jid = job_id("run-1", "structure", 2, "S3", 1, 1)
        self.assertEqual(jid, job_id("run-1", "structure", 2, "S3", 1, 1))
        self.assertNotIn(":", jid)
        self.assertNotEqual(jid, job_id("run-1", "structure", 2, "S3", 1, 2))

    def test_queue_per_provider(self):
        self.assertEqual(queue_name("openai"), "steps-openai")


class RetryCondition(unittest.TestCase):
    def test_permanent_failures_are_not_retried(self):
        self.assertFalse(is_retryable(task=None, task_run=None, state=SimpleNamespace(message=f"{PERMANENT_MARK} 401 bad key")))

    def test_other_failures_are_retried(self):
        self.assertTrue(is_retryable(task=None, task_run=None, state=SimpleNamespace(message="StepTimedOut: no result")))


if __name__ == "__main__":
    unittest.main()
