"""Grouping over a corpus of stack traces as Python, Node and the browsers' SDKs send them."""

from __future__ import annotations

from typing import Any

import pytest

from logsight.processing.grouping import culprit, fingerprint, normalize_message, title


def error(
    error_type: str, value: str, frames: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type, "value": value, "stacktrace": {"frames": frames}},
        **extra,
    }


def py_frames(line: int, function: str = "pay") -> list[dict[str, Any]]:
    return [
        {
            "filename": "django/core/handlers/base.py",
            "module": "django.core.handlers.base",
            "function": "_get_response",
            "lineno": 197,
            "in_app": False,
        },
        {
            "filename": "shop/views.py",
            "module": "shop.views",
            "function": "checkout",
            "lineno": 41,
            "in_app": True,
        },
        {
            "filename": "shop/payments.py",
            "module": "shop.payments",
            "function": function,
            "lineno": line,
            "in_app": True,
        },
    ]


def node_frames(line: int, build: str) -> list[dict[str, Any]]:
    return [
        {
            "filename": "node:internal/process/task_queues",
            "function": "process.processTicksAndRejections",
            "lineno": 95,
            "in_app": False,
        },
        {
            "filename": f"/app/node_modules/express@4.21.{build}/lib/router/layer.js",
            "function": "Layer.handle",
            "lineno": 95,
            "in_app": False,
        },
        {
            "filename": "/app/dist/routes/orders.js",
            "function": "async createOrder",
            "lineno": line,
            "colno": 11,
            "in_app": True,
        },
    ]


def browser_frames(browser: str, build: str) -> list[dict[str, Any]]:
    """The same click handler failing, as each engine names the functions."""
    bundle = f"https://shop.example/static/js/main.{build}.js"
    functions = {
        "chrome": ["HTMLButtonElement.onClick", "Object.submitCart", "validate"],
        "firefox": ["onClick", "submitCart", "validate/<"],
        "safari": ["onClick", "submitCart", "validate"],
    }[browser]
    return [
        {"filename": bundle, "function": name, "lineno": 1, "colno": 1000 + i, "in_app": True}
        for i, name in enumerate(functions)
    ]


class TestPython:
    def test_line_numbers_and_messages_do_not_split_an_issue(self) -> None:
        first = error("ValueError", "cart 1234 is invalid", py_frames(88))
        second = error("ValueError", "cart 98 is invalid", py_frames(91))
        assert fingerprint(first) == fingerprint(second)

    def test_another_function_is_another_issue(self) -> None:
        assert fingerprint(error("ValueError", "x", py_frames(88))) != fingerprint(
            error("ValueError", "x", py_frames(88, function="refund"))
        )

    def test_another_exception_type_is_another_issue(self) -> None:
        assert fingerprint(error("ValueError", "x", py_frames(88))) != fingerprint(
            error("KeyError", "x", py_frames(88))
        )

    def test_library_frames_do_not_matter(self) -> None:
        frames = py_frames(88)
        other = [dict(frames[0], function="get_response", lineno=12), *frames[1:]]
        assert fingerprint(error("ValueError", "x", frames)) == fingerprint(
            error("ValueError", "x", other)
        )

    def test_culprit_and_title(self) -> None:
        event = error("ValueError", "cart 1234 is invalid\nmore", py_frames(88))
        assert culprit(event) == "shop.payments in pay"
        assert title(event) == "ValueError: cart 1234 is invalid"


class TestNode:
    def test_redeploys_and_dependency_upgrades_do_not_split(self) -> None:
        assert fingerprint(error("TypeError", "a", node_frames(10, "1"))) == fingerprint(
            error("TypeError", "b", node_frames(14, "2"))
        )

    def test_culprit_uses_the_file_when_there_is_no_module(self) -> None:
        assert (
            culprit(error("TypeError", "a", node_frames(10, "1")))
            == "app/dist/routes/orders.js in async createOrder"
        )


class TestBrowsers:
    @pytest.mark.parametrize("browser", ["chrome", "firefox", "safari"])
    def test_a_new_bundle_hash_does_not_split(self, browser: str) -> None:
        assert fingerprint(
            error("TypeError", "x", browser_frames(browser, "4f3a2b1c"))
        ) == fingerprint(error("TypeError", "y", browser_frames(browser, "9c8d7e6f")))

    def test_firefox_and_safari_spell_functions_alike(self) -> None:
        assert fingerprint(
            error("TypeError", "x", browser_frames("firefox", "a1b2c3d4"))
        ) == fingerprint(error("TypeError", "x", browser_frames("safari", "a1b2c3d4")))

    def test_v8_object_prefix_is_ignored(self) -> None:
        chrome = [
            {
                "filename": "https://a.example/app.js",
                "function": "Object.submitCart",
                "in_app": True,
            }
        ]
        safari = [
            {"filename": "https://a.example/app.js", "function": "submitCart", "in_app": True}
        ]
        assert fingerprint(error("TypeError", "x", chrome)) == fingerprint(
            error("TypeError", "x", safari)
        )


class TestFallbacks:
    def test_without_a_stack_the_normalized_message_groups(self) -> None:
        assert fingerprint(error("NotFound", "user 123 not found", [])) == fingerprint(
            error("NotFound", "user 456 not found", [])
        )
        assert fingerprint(error("Timeout", "connecting to 'db-1'", [])) == fingerprint(
            error("Timeout", "connecting to 'db-2'", [])
        )
        assert fingerprint(error("NotFound", "user 123 not found", [])) != fingerprint(
            error("NotFound", "order 123 not found", [])
        )

    def test_message_only_errors(self) -> None:
        one = {"type": "error", "message": "disk /dev/sda1 is 91% full"}
        two = {"type": "error", "message": "disk /dev/sda1 is 97% full"}
        assert fingerprint(one) == fingerprint(two)

    def test_messages_with_a_synthetic_exception_group_by_their_message(self) -> None:
        """@sentry/node sends captureMessage as an exception marked synthetic, carrying only
        the call stack: where a message was sent from does not make it the same problem."""

        def node_message(text: str, line: int) -> dict[str, Any]:
            event = error("", text, node_frames(line, "1"), message=text)
            del event["error"]["type"]
            event["error"]["mechanism"] = {"type": "generic", "handled": True, "synthetic": True}
            return event

        python_message = {"type": "error", "error": {"type": None, "value": "queue 7 is full"}}
        assert fingerprint(node_message("queue 7 is full", 10)) == fingerprint(
            node_message("queue 8 is full", 99)
        )
        assert fingerprint(node_message("queue 7 is full", 10)) != fingerprint(
            node_message("disk 7 is full", 10)
        )
        assert fingerprint(node_message("queue 7 is full", 10)) == fingerprint(python_message)

    def test_frames_without_in_app_flags_all_count(self) -> None:
        frames = [{"filename": "a.py", "function": "f"}, {"filename": "b.py", "function": "g"}]
        other = [{"filename": "a.py", "function": "f"}, {"filename": "b.py", "function": "h"}]
        assert fingerprint(error("E", "x", frames)) != fingerprint(error("E", "x", other))

    def test_the_client_fingerprint_wins(self) -> None:
        a = error("E", "x", py_frames(1), fingerprint=["payments", "timeout"])
        b = error("F", "y", node_frames(2, "3"), fingerprint=["payments", "timeout"])
        assert fingerprint(a) == fingerprint(b)

    def test_non_errors_have_no_group(self) -> None:
        assert fingerprint({"type": "event", "name": "signup"}) is None


@pytest.mark.parametrize(
    ("message", "normalized"),
    [
        ("order 42 failed", "order <n> failed"),
        ("id 8f14e45f-ceea-467f-a0e6-2c1b5a9f3b2d gone", "id <uuid> gone"),
        ("at 0x7ffd3a and deadbeef1234", "at <hex> and <hex>"),
        ('key "abc" missing', "key <str> missing"),
        ("took 1.5s", "took <n>s"),
        ("utf8 decode", "utf8 decode"),
    ],
)
def test_message_normalization(message: str, normalized: str) -> None:
    assert normalize_message(message) == normalized
