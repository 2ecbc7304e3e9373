"""Log lines name the request a record is about, never what was searched for."""

from __future__ import annotations

import json
import logging

from django.test import RequestFactory

from cipdash.logging import JsonFormatter


def test_json_log_names_a_request_by_method_and_path_without_its_query():
    request = RequestFactory().get("/calls/find/", {"q": "+15555550123"})
    record = logging.LogRecord("django.request", logging.WARNING, "", 0, "Not Found", None, None)
    record.request = request

    line = JsonFormatter().format(record)

    assert "5555550123" not in line
    assert json.loads(line)["request"] == "GET /calls/find/"
