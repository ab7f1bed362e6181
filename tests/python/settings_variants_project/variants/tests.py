"""Tests that change the connection's settings_dict for a while, as Django's own suite does
(timezones' override_database_connection_timezone): under puff each variant opens a pool of
its own on the test database, and the test database must still be dropped at the end. Run by
tests/python/test_test_databases.py under `puff django test`, `puff pytest` and plain python."""
import copy
import sys
import unittest
from contextlib import contextmanager

from django.db import connection
from django.test import TransactionTestCase

from variants.models import Note

IN_PUFF = "puff" in sys.builtin_module_names


def pool_count():
    import puff
    return len(puff.db_pool_stats())


def forget_cached_time_zone():
    for name in ("timezone", "timezone_name"):
        try:
            delattr(connection, name)
        except AttributeError:
            pass


@contextmanager
def connection_settings(**changes):
    """settings_dict with `changes` for the block; the connection reconnects with them, and
    with the original ones afterwards."""
    saved = {key: copy.deepcopy(connection.settings_dict[key]) for key in changes}
    connection.settings_dict.update(changes)
    forget_cached_time_zone()
    connection.close()
    try:
        yield
    finally:
        connection.settings_dict.update(saved)
        forget_cached_time_zone()
        connection.close()


def session_time_zone():
    with connection.cursor() as cursor:
        cursor.execute("select current_setting('TimeZone')")
        return cursor.fetchone()[0]


class OpensAPoolPerVariant:
    """Under puff, the variant's first statement opens one more pool."""

    def assert_one_more_pool(self, statements):
        before = pool_count() if IN_PUFF else 0
        result = statements()
        if IN_PUFF:
            self.assertEqual(pool_count(), before + 1)
        return result


class TimeZoneVariants(OpensAPoolPerVariant, TransactionTestCase):
    def test_a_session_in_another_time_zone(self):
        with connection_settings(TIME_ZONE="Asia/Tokyo"):
            self.assertEqual(self.assert_one_more_pool(session_time_zone), "Asia/Tokyo")
            Note.objects.create(text="written from Tokyo")
        self.assertEqual(session_time_zone(), "UTC")
        self.assertEqual(Note.objects.get().text, "written from Tokyo")

    @unittest.skipUnless(IN_PUFF, "greenlets of the hub: puff only")
    def test_another_greenlet_connects_with_the_variant(self):
        import puff
        # Every greenlet has its own Django connection, all on the same settings_dict.
        with connection_settings(TIME_ZONE="America/Lima"):
            task = puff.spawn(session_time_zone)
            self.assertEqual(self.assert_one_more_pool(task.join), "America/Lima")
        self.assertEqual(session_time_zone(), "UTC")


class PoolOptionVariants(OpensAPoolPerVariant, TransactionTestCase):
    def test_a_smaller_pool(self):
        options = {**connection.settings_dict["OPTIONS"], "pool": {"max_size": 2}}
        with connection_settings(OPTIONS=options):
            self.assert_one_more_pool(lambda: Note.objects.create(text="small pool"))
        self.assertEqual(Note.objects.count(), 1)

    def test_an_unpooled_variant_after_a_pooled_one(self):
        with connection_settings(TIME_ZONE="Europe/Oslo"):
            self.assertEqual(self.assert_one_more_pool(session_time_zone), "Europe/Oslo")
        options = {**connection.settings_dict["OPTIONS"], "pool": False}
        with connection_settings(OPTIONS=options):
            self.assertEqual(session_time_zone(), "UTC")
            self.assertFalse(connection.connection._pooled)
