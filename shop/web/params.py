"""Parsing and validating request input. Every failure is a 400 that names the field."""
import json
import re

from flask import request

from shop.errors import InvalidRequest
from shop.web.app import request_body


def json_body() -> dict:
    """The request's JSON object, or 400. (Body size was already checked: 413 comes first.)"""
    raw = request_body()
    if not raw:
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    where = _not_unicode(body)
    if where is not None:
        # Valid JSON, but "\udfff" decodes to a lone surrogate, which no UTF-8 text (a database,
        # a log line, a response) can hold: without this check it fails later, as a 500.
        raise InvalidRequest(f"The field '{where}' is not valid Unicode text (a lone surrogate escape)."
                             if where else "The request body holds text that is not valid Unicode "
                                           "(a lone surrogate escape).")
    return body


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _not_unicode(value, path: str = "") -> str | None:
    """The dotted path of the first string (key or value) that is not valid Unicode, "" for
    one at the top, None if every string is valid."""
    if isinstance(value, str):
        return path if _has_surrogate(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _has_surrogate(key):
                return path
            found = _not_unicode(item, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _not_unicode(item, f"{path}[{i}]" if path else f"[{i}]")
            if found is not None:
                return found
    return None


def string(body: dict, name: str, *, min_len: int = 1, max_len: int = 200,
           required: bool = True, strip: bool = True, label: str | None = None) -> str | None:
    label = label or name
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"The field '{label}' is required.")
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"The field '{label}' must be a string.")
    if strip:
        value = value.strip()
    if not (min_len <= len(value) <= max_len):
        if min_len == 1 and not value:
            raise InvalidRequest(f"The field '{label}' must not be empty.")
        raise InvalidRequest(f"The field '{label}' must be {min_len} to {max_len} characters long.")
    return value


def integer(body: dict, name: str, *, min_value: int | None = None, max_value: int | None = None,
            required: bool = True, label: str | None = None) -> int | None:
    label = label or name
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"The field '{label}' is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"The field '{label}' must be a whole number.")
    return _in_range(label, value, min_value, max_value)


def obj(body: dict, name: str) -> dict:
    value = body.get(name)
    if value is None:
        raise InvalidRequest(f"The field '{name}' is required.")
    if not isinstance(value, dict):
        raise InvalidRequest(f"The field '{name}' must be an object.")
    return value


def _in_range(name: str, value: int, min_value: int | None, max_value: int | None) -> int:
    if (min_value is not None and value < min_value) or (max_value is not None and value > max_value):
        if max_value is None:
            raise InvalidRequest(f"'{name}' must be at least {min_value}.")
        if min_value is None:
            raise InvalidRequest(f"'{name}' must be at most {max_value}.")
        raise InvalidRequest(f"'{name}' must be between {min_value} and {max_value}.")
    return value


_WHOLE = re.compile(r"[0-9]{1,9}")
_WHOLE_64 = re.compile(r"[0-9]{1,19}")
MAX_INT64 = 2**63 - 1


def query_int(name: str, *, default: int | None = None, min_value: int | None = None,
              max_value: int | None = None, int64: bool = False) -> int | None:
    """A whole number in ASCII digits: up to 9 of them (the public API's parameters), or with
    ``int64`` anything SQLite's integers hold (internal calls pass computed totals: a cart's
    weight or subtotal, which the public limits must not cap)."""
    raw = _one(name)
    if raw is None:
        if default is None:
            raise InvalidRequest(f"The query parameter '{name}' is required.")
        return default
    if not (_WHOLE_64 if int64 else _WHOLE).fullmatch(raw) or (int64 and int(raw) > MAX_INT64):
        raise InvalidRequest(f"The query parameter '{name}' must be a whole number.")
    return _in_range(name, int(raw), min_value, max_value)


def query_str(name: str, *, required: bool = False, max_len: int = 200) -> str | None:
    """A query parameter; missing, empty or blank counts as absent. Its length is that of
    what was sent (as the OpenAPI document's maxLength counts it), blanks included."""
    raw = _one(name)
    if raw is not None and len(raw) > max_len:
        raise InvalidRequest(f"The query parameter '{name}' must be at most {max_len} characters.")
    raw = raw.strip() if raw is not None else None
    if not raw:
        if required:
            raise InvalidRequest(f"The query parameter '{name}' is required.")
        return None
    return raw


def _one(name: str) -> str | None:
    """A query parameter given at most once: ``?page=1&page=2`` is ambiguous (a proxy, a cache
    and this app could each read another one), so it is 400, not the first one silently."""
    values = request.args.getlist(name)
    if len(values) > 1:
        raise InvalidRequest(f"The query parameter '{name}' must be given at most once.")
    return values[0] if values else None


def pagination() -> tuple[int, int]:
    page = query_int("page", default=1, min_value=1, max_value=1_000_000)
    per_page = query_int("per_page", default=20, min_value=1, max_value=100)
    return page, per_page


def page_of(items: list, page: int, per_page: int, total: int) -> dict:
    return {"items": items, "page": page, "per_page": per_page, "total": total}
