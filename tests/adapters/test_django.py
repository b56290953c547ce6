"""Django app specifics: settings, the app's own urls.py, CSRF, checks, consumed body, stores.

The ORM store runs on SQLite and on the real PostgreSQL; the cache store on LocMem and on a real
Redis cache backend. Store failures must surface as StoreError (503), never as a crash.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import SECRET, make_body, setup_django, signed_headers

from cortexhooks_receiver.signature import now_ms
from cortexhooks_receiver.stores import ClaimState, Store, StoreError

setup_django()

from django.core import checks  # noqa: E402
from django.db import connections  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from cortexhooks_receiver.integrations.django import conf  # noqa: E402
from cortexhooks_receiver.integrations.django.checks import check_settings  # noqa: E402
from cortexhooks_receiver.integrations.django.stores import (  # noqa: E402
    DjangoCacheStore,
    DjangoORMStore,
)

PROJECT_PATH = "/project/webhooks/cortexbuild"


def _fresh(delivery_id: str = "dj_1") -> tuple[bytes, dict[str, str]]:
    body = make_body(timestamp=now_ms())
    headers = signed_headers(body, timestamp=now_ms(), delivery_id=delivery_id)
    extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    extra.pop("HTTP_CONTENT_TYPE")
    return body, extra


def _ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


# -- the app as a user installs it ------------------------------------------------------------


def test_included_urls_serve_webhooks_with_the_settings_receiver() -> None:
    with override_settings(CORTEXHOOKS={"SECRET": SECRET, "STORE": "memory://"}):
        receiver = conf.get_receiver()
        seen: list[str] = []
        receiver.on("task.completed")(lambda event: seen.append(event.delivery_id))
        body, extra = _fresh()
        client = Client(enforce_csrf_checks=True)
        response = client.post(PROJECT_PATH, body, "application/json", **extra)
        assert response.status_code == 200, response.content
        assert client.post(PROJECT_PATH, body, "application/json", **extra).json() == {
            "received": True,
            "duplicate": True,
        }
        assert seen == ["dj_1"]
        assert client.post("/form", {"x": "1"}).status_code == 403  # CSRF is really on


def test_changing_the_setting_rebuilds_the_receiver() -> None:
    with override_settings(CORTEXHOOKS={"SECRET": SECRET, "STORE": "memory://"}):
        first = conf.get_receiver()
    with override_settings(CORTEXHOOKS={"SECRET": "whsec_other", "STORE": "memory://"}):
        second = conf.get_receiver()
        body, extra = _fresh()
        response = Client().post(PROJECT_PATH, body, "application/json", **extra)
        assert response.status_code == 401
    assert first is not second


def test_django_orm_is_the_default_store() -> None:
    with override_settings(CORTEXHOOKS={"SECRET": SECRET}):
        assert isinstance(conf.get_receiver().store, DjangoORMStore)


def test_body_consumed_by_a_middleware_is_a_documented_500() -> None:
    def greedy(get_response: Callable[[HttpRequest], HttpResponse]) -> Any:
        def middleware(request: HttpRequest) -> HttpResponse:
            request.read()
            return get_response(request)

        return middleware

    import _django_urls

    _django_urls.greedy = greedy  # type: ignore[attr-defined]
    with override_settings(
        CORTEXHOOKS={"SECRET": SECRET, "STORE": "memory://"},
        MIDDLEWARE=["_django_urls.greedy"],
    ):
        body, extra = _fresh()
        response = Client().post(PROJECT_PATH, body, "application/json", **extra)
    assert response.status_code == 500
    assert response.json()["error"] == "body_already_consumed"


# -- system checks ------------------------------------------------------------------------------


def test_check_reports_a_missing_secret_as_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORTEXBUILD_WEBHOOK_SECRET", raising=False)
    with override_settings(CORTEXHOOKS={"STORE": "django-orm"}):
        messages = check_settings()
    assert _ids(messages) == ["cortexhooks.E001"]
    assert messages[0].level == checks.ERROR


def test_check_accepts_the_env_var_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORTEXBUILD_WEBHOOK_SECRET", SECRET)
    with override_settings(CORTEXHOOKS={}):
        assert check_settings() == []


def test_check_refuses_an_empty_secret() -> None:
    with override_settings(CORTEXHOOKS={"SECRET": "  "}):
        assert _ids(check_settings()) == ["cortexhooks.E001"]


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
        "django.core.cache.backends.filebased.FileBasedCache",
    ],
)
def test_check_warns_about_a_non_atomic_cache_store(backend: str) -> None:
    caches = {"default": {"BACKEND": backend, "LOCATION": "/tmp/cortexhooks-unused"}}
    with override_settings(
        CORTEXHOOKS={"SECRET": SECRET, "STORE": "django-cache://default"}, CACHES=caches
    ):
        messages = check_settings()
    assert _ids(messages) == ["cortexhooks.W001"]
    assert messages[0].level == checks.WARNING


def test_check_passes_an_atomic_cache_store() -> None:
    with override_settings(CORTEXHOOKS={"SECRET": SECRET, "STORE": "django-cache://redis"}):
        assert check_settings() == []


def test_check_reports_an_unknown_cache_alias() -> None:
    with override_settings(CORTEXHOOKS={"SECRET": SECRET, "STORE": "django-cache://nope"}):
        assert _ids(check_settings()) == ["cortexhooks.E002"]


def test_checks_are_registered_with_django() -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    with (
        override_settings(CORTEXHOOKS={"SECRET": ""}),
        pytest.raises(SystemCheckError, match=r"cortexhooks\.E001"),
    ):
        call_command("check", tags=["cortexhooks"])


# -- stores -----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def orm_store(request: pytest.FixtureRequest) -> Iterator[tuple[DjangoORMStore, Clock]]:
    alias = "default" if request.param == "sqlite" else request.getfixturevalue("pg_alias")
    clock = Clock()
    store = DjangoORMStore(using=alias, clock=clock)
    from cortexhooks_receiver.integrations.django.models import DeliveryClaim

    DeliveryClaim.objects.using(alias).all().delete()
    yield store, clock
    DeliveryClaim.objects.using(alias).all().delete()


def _contract(store: Store) -> None:
    keys = ["d:one", "b:digest-one"]
    assert store.claim(keys, 60, "t1") is ClaimState.NEW
    assert store.claim(keys, 60, "t2") is ClaimState.IN_PROGRESS
    assert store.claim(["b:digest-one"], 60, "t2") is ClaimState.IN_PROGRESS
    store.release(keys, "t2")  # not the owner: nothing happens
    assert store.claim(keys, 60, "t3") is ClaimState.IN_PROGRESS
    store.release(keys, "t1")
    assert store.claim(keys, 60, "t4") is ClaimState.NEW
    store.complete(keys, 3600, "t4")
    assert store.claim(keys, 60, "t5") is ClaimState.DONE
    assert store.claim(["d:new-id", "b:digest-one"], 60, "t6") is ClaimState.DONE
    store.close()


def test_orm_store_follows_the_store_contract(orm_store: tuple[DjangoORMStore, Clock]) -> None:
    _contract(orm_store[0])


def test_orm_store_lets_an_expired_claim_be_taken_over(
    orm_store: tuple[DjangoORMStore, Clock],
) -> None:
    store, clock = orm_store
    assert store.claim(["d:x"], 60, "crashed") is ClaimState.NEW
    clock.now += 61
    assert store.claim(["d:x"], 60, "next") is ClaimState.NEW
    store.release(["d:x"], "crashed")  # the crashed worker's late release does not free it
    assert store.claim(["d:x"], 60, "third") is ClaimState.IN_PROGRESS


def test_orm_store_forgets_completed_keys_after_retention_and_prunes_them(
    orm_store: tuple[DjangoORMStore, Clock],
) -> None:
    store, clock = orm_store
    store.claim(["d:y"], 60, "t")
    store.complete(["d:y"], 100, "t")
    clock.now += 101
    assert store.prune() == 1
    assert store.claim(["d:y"], 60, "t2") is ClaimState.NEW


def test_orm_store_on_postgres_admits_one_of_many_concurrent_claims(pg_alias: str) -> None:
    store = DjangoORMStore(using=pg_alias)
    from cortexhooks_receiver.integrations.django.models import DeliveryClaim

    DeliveryClaim.objects.using(pg_alias).all().delete()
    workers = 8
    barrier = threading.Barrier(workers)
    results: list[ClaimState] = []

    def worker(n: int) -> None:
        try:
            barrier.wait(10)
            results.append(store.claim(["d:race", "b:race"], 60, f"w{n}"))
        finally:
            connections[pg_alias].close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.value for r in results) == ["in_progress"] * (workers - 1) + ["new"]
    DeliveryClaim.objects.using(pg_alias).all().delete()


def test_orm_store_raises_store_error_when_the_database_fails() -> None:
    store = DjangoORMStore(using="broken")
    with pytest.raises(StoreError):
        store.claim(["d:z"], 60, "t")
    with pytest.raises(StoreError):
        store.complete(["d:z"], 60, "t")
    with pytest.raises(StoreError):
        store.release(["d:z"], "t")


@pytest.fixture(params=["locmem", "redis"])
def cache_store(request: pytest.FixtureRequest) -> Iterator[DjangoCacheStore]:
    alias = "default"
    if request.param == "redis":
        request.getfixturevalue("redis_url")
        alias = "redis"
    from django.core.cache import caches

    caches[alias].clear()
    yield DjangoCacheStore(alias)
    caches[alias].clear()


def test_cache_store_follows_the_store_contract(cache_store: DjangoCacheStore) -> None:
    _contract(cache_store)


def test_cache_store_gives_back_partial_claims_when_a_later_key_is_taken(
    cache_store: DjangoCacheStore,
) -> None:
    assert cache_store.claim(["b:shared"], 60, "first") is ClaimState.NEW
    assert cache_store.claim(["d:other", "b:shared"], 60, "second") is ClaimState.IN_PROGRESS
    assert cache_store.claim(["d:other"], 60, "third") is ClaimState.NEW


def test_cache_store_raises_store_error_when_the_cache_fails() -> None:
    store = DjangoCacheStore("broken_redis")
    with pytest.raises(StoreError):
        store.claim(["d:z"], 60, "t")
    with pytest.raises(StoreError):
        store.complete(["d:z"], 60, "t")


def test_store_urls_name_the_django_stores() -> None:
    orm = conf.open_django_store("django-orm://pg")
    cache = conf.open_django_store("django-cache://redis")
    assert isinstance(orm, DjangoORMStore)
    assert orm.using == "pg"
    assert isinstance(cache, DjangoCacheStore)
    assert cache.alias == "redis"
    assert conf.open_django_store("memory://") == "memory://"
