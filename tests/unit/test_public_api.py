"""The public names: one exception hierarchy rooted in ``EtcdError`` (house rule: exceptions
form one hierarchy rooted in one base class), and the classes a user annotates with exported
once, for both flavours."""

from __future__ import annotations

import inspect

import etcdwire
from etcdwire import errors
from etcdwire._async import watch as async_watch
from etcdwire._sync import watch as sync_watch


def test_every_exported_exception_derives_from_etcd_error() -> None:
    exported = [getattr(etcdwire, name) for name in etcdwire.__all__]
    exceptions = [
        obj for obj in exported if inspect.isclass(obj) and issubclass(obj, BaseException)
    ]
    assert len(exceptions) > 50
    outside = [cls.__name__ for cls in exceptions if not issubclass(cls, etcdwire.EtcdError)]
    assert outside == []
    # and every exception class the errors module defines is exported
    defined = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == errors.__name__
    }
    assert defined <= set(etcdwire.__all__)


def test_watch_overflow_is_one_class_for_the_blocking_and_asyncio_watches() -> None:
    assert sync_watch.WatchOverflow is async_watch.WatchOverflow is etcdwire.WatchOverflow
    assert issubclass(etcdwire.WatchOverflow, etcdwire.EtcdError)


def test_watch_classes_are_exported_for_annotations() -> None:
    assert etcdwire.Watch is sync_watch.Watch
    assert etcdwire.AsyncWatch is async_watch.AsyncWatch
