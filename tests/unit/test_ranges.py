from __future__ import annotations

import pytest

from slipway.api.ranges import DEFAULT_MAX, MAX_MAX, RangeError, RangeSpec, paginate, parse_range

FIELDS = ("version", "id")


def key(item: dict[str, int | str], field: str) -> int | str:
    return item[field]


ITEMS: list[dict[str, int | str]] = [{"version": v, "id": f"id-{v:03d}"} for v in range(1, 26)]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, RangeSpec("version")),
        ("", RangeSpec("version")),
        ("version ..; max=15, order=desc", RangeSpec("version", max=15, order="desc")),
        ("version ..; order=desc,max=1", RangeSpec("version", max=1, order="desc")),
        ("id ..; max=1000;", RangeSpec("id", max=1000)),
        ("version ]10..; max=5", RangeSpec("version", "10", True, None, 5)),
        ("version 3..7", RangeSpec("version", "3", False, "7", DEFAULT_MAX)),
        ("version", RangeSpec("version")),
        ("version ..; max=5000", RangeSpec("version", max=MAX_MAX)),
    ],
)
def test_parses_the_forms_the_official_cli_sends(header: str | None, expected: RangeSpec) -> None:
    assert parse_range(header, FIELDS) == expected


@pytest.mark.parametrize(
    "header",
    [
        "name ..",
        "version ..; max=0",
        "version ..; max=x",
        "version ..; order=up",
        "version 3",
        "version ..; foo=1",
    ],
)
def test_rejects_what_it_cannot_honour(header: str) -> None:
    with pytest.raises(RangeError):
        parse_range(header, FIELDS)


def test_desc_page_with_next_range_that_resumes_exclusively() -> None:
    spec = parse_range("version ..; max=10, order=desc", FIELDS)
    page = paginate(ITEMS, spec, key)
    assert [i["version"] for i in page.items] == list(range(25, 15, -1))
    assert page.content_range == "version 25..16; max=10, order=desc"
    assert page.next_range == "version ]16..; max=10, order=desc"
    second = paginate(ITEMS, parse_range(page.next_range, FIELDS), key)
    assert [i["version"] for i in second.items] == list(range(15, 5, -1))
    third = paginate(ITEMS, parse_range(second.next_range, FIELDS), key)
    assert [i["version"] for i in third.items] == [5, 4, 3, 2, 1]
    assert third.next_range is None


def test_no_next_range_when_the_page_holds_everything() -> None:
    page = paginate(ITEMS, parse_range("version ..; max=25", FIELDS), key)
    assert len(page.items) == 25
    assert page.next_range is None


def test_bounds_are_numeric_for_numeric_fields() -> None:
    page = paginate(ITEMS, parse_range("version 9..11", FIELDS), key)
    assert [i["version"] for i in page.items] == [9, 10, 11]
    with pytest.raises(RangeError):
        paginate(ITEMS, parse_range("version abc..", FIELDS), key)


def test_string_fields_page_in_order() -> None:
    page = paginate(ITEMS, parse_range("id ]id-020..; max=3", FIELDS), key)
    assert [i["id"] for i in page.items] == ["id-021", "id-022", "id-023"]


def test_empty_list_has_no_ranges() -> None:
    empty: list[dict[str, int | str]] = []
    page = paginate(empty, parse_range(None, FIELDS), key)
    assert page.items == []
    assert page.content_range is None
    assert page.next_range is None
