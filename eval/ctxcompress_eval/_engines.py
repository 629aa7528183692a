"""The engines that run tasks: :class:`LocalEngine` (this process, optionally threads) and Ray actors.

Each method gets one untimed warm-up call per process before its timed calls (:func:`~._probe.execute`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._config import make_context
from ._data import Question
from ._methods import Method, build_method
from ._probe import execute

__all__ = ["LocalEngine", "Task", "run_ray"]

Task = tuple[str, str, float, Question]  # dataset key, method name, budget, question


class LocalEngine:
    """Runs tasks in this process: sequentially, or on ``workers`` threads for thread-safe methods."""

    def __init__(self, methods: dict[str, Method], memory: str, workers: int) -> None:
        self.methods = methods
        self.memory = memory
        self.workers = workers
        self._warm: set[str] = set()
        self._locks = {name: threading.Lock() for name in methods}

    def _warm_up(self, name: str, q: Question, budget: float) -> None:
        if name not in self._warm:
            m = self.methods[name]
            m.warm_up()
            # untimed: caches, lazy imports, first-call costs; a failure shows in the timed call's record
            with contextlib.suppress(Exception):
                m.compress(q.question, q.contexts[:2], budget)  # a small input: loads models, not a full question
            self._warm.add(name)

    def _one(self, task: Task) -> tuple[Task, dict[str, Any]]:
        _, name, budget, q = task
        m = self.methods[name]
        if m.thread_safe:
            return task, execute(m, q, budget, self.memory)
        with self._locks[name]:
            return task, execute(m, q, budget, self.memory)

    def run(self, tasks: Sequence[Task], on_result: Callable[[Task, dict[str, Any]], None]) -> None:
        # group by method so each model stays hot; warm each method once, untimed
        groups: dict[str, list[Task]] = {}
        for t in tasks:
            groups.setdefault(t[1], []).append(t)
        for name, group in groups.items():
            self._warm_up(name, group[0][3], group[0][2])
            if self.workers > 1 and self.methods[name].thread_safe:
                with ThreadPoolExecutor(self.workers) as pool:
                    for task, raw in pool.map(self._one, group):
                        on_result(task, raw)
            else:
                for task in group:
                    on_result(*self._one(task))


class _RayWorker:
    """A Ray actor: builds methods by name on first use (warmed, untimed), then runs tasks."""

    def __init__(self, settings: dict[str, Any]) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.settings = settings
        self.ctx = make_context(settings)
        self.methods: dict[str, Method] = {}

    def run(self, task: Task) -> tuple[Task, dict[str, Any]]:
        _, name, budget, q = task
        if name not in self.methods:
            m = build_method(name, self.ctx)
            m.warm_up()
            with contextlib.suppress(Exception):
                m.compress(q.question, q.contexts[:2], budget)
            self.methods[name] = m
        return task, execute(self.methods[name], q, budget, self.settings["memory"])


def run_ray(
    tasks: Sequence[Task], settings: dict[str, Any], workers: int, on_result: Callable[[Task, dict[str, Any]], None]
) -> None:
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as exc:
        raise ImportError("--engine ray needs ray: pip install 'ctxcompress-eval[ray]'") from exc
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=workers,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}},
        )
    try:
        actor_cls: Any = ray.remote(num_cpus=1)(_RayWorker)
        actors = [actor_cls.remote(settings) for _ in range(workers)]
        pool = ActorPool(actors)
        for task, raw in pool.map_unordered(lambda a, t: a.run.remote(t), list(tasks)):
            on_result(task, raw)
        for a in actors:
            ray.kill(a)
    finally:
        if started:
            ray.shutdown()
