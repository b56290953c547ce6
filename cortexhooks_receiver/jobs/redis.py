"""Dead letters kept in Redis: where the Celery and RQ handoffs put the jobs that failed for good.

Celery and RQ run the jobs, but neither keeps a dead letter the way the built-in queues do, so
the handoffs keep them here (``redis`` extra), on the Redis they already use:

* ``<prefix>dead``: a sorted set of job ids, scored by the time each was buried;
* ``<prefix>dead:<job id>``: a hash with the job (its JSON: raw body and ids, never a secret), the
  error's type and message, the attempts and the time.

``bury`` writes both in one ``MULTI``; a replay hands the job back to its engine first and only
then deletes the dead letter, so a failure in between leaves a dead letter, never a lost job.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .base import DeadLetter, Job, QueueError, dead_letter_from_row, unknown_job

if TYPE_CHECKING:
    import redis as redis_lib

__all__ = ["RedisDeadLetters"]


class RedisDeadLetters:
    """The dead letters of a handoff queue, in Redis.

    Args:
        client: a ``redis.Redis`` client, or a ``redis://`` URL.
        prefix: the keys' prefix (one per queue).

    Every method raises :class:`~cortexhooks_receiver.errors.QueueError` when Redis fails.

    Raises:
        ImportError: redis-py is not installed (the ``redis`` extra), when given a URL.
    """

    def __init__(self, client: redis_lib.Redis | str, prefix: str = "cortexhooks:") -> None:
        self._owned = isinstance(client, str)
        if isinstance(client, str):
            import redis

            client = redis.Redis.from_url(client)
        self.client = client
        self.prefix = prefix
        self._index = prefix + "dead"

    def __repr__(self) -> str:
        return f"RedisDeadLetters(prefix={self.prefix!r})"

    def _key(self, job_id: str) -> str:
        return f"{self._index}:{job_id}"

    def _call(self, action: str, work: Any) -> Any:
        import redis

        try:
            return work()
        except redis.RedisError as exc:
            raise QueueError(f"Redis failed to {action}: {exc}") from exc

    def _ids(self) -> list[str]:
        found: Any = self.client.zrange(self._index, 0, -1)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in found]

    def bury(self, job: Job, error: str) -> None:
        """Keep ``job`` (after ``job.attempt`` attempts) as a dead letter with ``error``.

        Raises:
            QueueError: Redis failed; nothing was written.
        """
        now = time.time()
        fields = {"job": job.to_json(), "error": error, "attempts": job.attempt, "failed_at": now}

        def write() -> None:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(self._key(job.id), mapping=fields)  # type: ignore[arg-type]
                pipe.zadd(self._index, {job.id: now})
                pipe.execute()

        self._call("bury a job", write)

    def _letter(self, job_id: str, fields: dict[bytes, bytes]) -> DeadLetter:
        job = Job.from_json(fields[b"job"])
        return dead_letter_from_row(
            (
                job_id,
                job.event,
                job.delivery_id,
                int(fields[b"attempts"]),
                fields[b"error"].decode(),
                float(fields[b"failed_at"]),
            )
        )

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest failure first.

        Raises:
            QueueError: Redis failed.
        """

        def read() -> list[DeadLetter]:
            ids = self._ids()
            with self.client.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hgetall(self._key(job_id))
                rows = pipe.execute()
            return [self._letter(i, row) for i, row in zip(ids, rows, strict=True) if row]

        result: list[DeadLetter] = self._call("list dead letters", read)
        return result

    def _fields(self, job_id: str) -> dict[bytes, bytes]:
        fields: dict[bytes, bytes] = self._call(
            "read a dead letter", lambda: self.client.hgetall(self._key(job_id))
        )
        if not fields:
            raise unknown_job(job_id)
        return fields

    def dead_letter(self, job_id: str) -> DeadLetter:
        """Dead letter ``job_id``.

        Raises:
            JobNotFound: no dead letter has this id.
            QueueError: Redis failed.
        """
        return self._letter(job_id, self._fields(job_id))

    def job(self, job_id: str) -> Job:
        """The job of dead letter ``job_id`` (to hand back to its engine).

        Raises:
            JobNotFound: no dead letter has this id.
            QueueError: Redis failed.
        """
        return Job.from_json(self._fields(job_id)[b"job"])

    def forget(self, job_id: str) -> None:
        """Delete dead letter ``job_id`` (once it was replayed).

        Raises:
            QueueError: Redis failed.
        """

        def delete() -> None:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(self._key(job_id))
                pipe.zrem(self._index, job_id)
                pipe.execute()

        self._call("delete a dead letter", delete)

    def purge(self) -> int:
        """Delete every dead letter; return how many there were.

        Raises:
            QueueError: Redis failed.
        """

        def delete() -> int:
            ids = self._ids()
            with self.client.pipeline(transaction=True) as pipe:
                for job_id in ids:
                    pipe.delete(self._key(job_id))
                if ids:
                    pipe.zrem(self._index, *ids)
                pipe.execute()
            return len(ids)

        count: int = self._call("purge dead letters", delete)
        return count

    def count(self) -> int:
        """How many dead letters there are.

        Raises:
            QueueError: Redis failed.
        """
        return int(self._call("count dead letters", lambda: self.client.zcard(self._index)))

    def close(self) -> None:
        """Close the Redis client made from a URL (a client given in is left open)."""
        if self._owned:
            self.client.close()
