"""Webhook response paths: parsing, extraction and rendering (docs/flows.md)."""

from __future__ import annotations

import pytest

from botflow.server.json_paths import (
    MAX_EXACT_INTEGER,
    WILDCARD,
    JsonPath,
    PathNotFoundError,
    PathSyntaxError,
    extract,
    nesting_depth,
    parse_path,
    render_json,
)
from botflow.server.variables import list_value, number_value, text_value
from botflow.v1.variables_pb2 import Value

DOCUMENT: dict[str, object] = {
    "name": "Shop",
    "count": 3,
    "ratio": 0.25,
    "open": True,
    "closed": False,
    "owner": None,
    "id": 2**60,
    "products": [
        {"title": "Lamp", "category": "home", "price": 19.5, "tags": ["a", "b"]},
        {"title": "Pen", "category": "office", "price": 2, "tags": []},
        {"title": "Mug", "category": "kitchen", "price": 7, "tags": ["c"]},
    ],
    "matrix": [[1, 2], [3], []],
    "a": {"b": {"c": "deep"}},
    "spaced key ": {"x": "kept"},
    "meta": {"city": "Zürich", "sizes": [1, 2]},
}


# --- parse_path --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("name", ("name",)),
        ("a.b.c", ("a", "b", "c")),
        ("products[1].category", ("products", 1, "category")),
        ("products[*].title", ("products", WILDCARD, "title")),
        ("[0].id", (0, "id")),
        ("a[0][1]", ("a", 0, 1)),
        ("a[-1]", ("a", -1)),
        ("a[*][*]", ("a", WILDCARD, WILDCARD)),
        ("a[1][*].b", ("a", 1, WILDCARD, "b")),
        ("[*]", (WILDCARD,)),
        ("a[007]", ("a", 7)),
        # Only the whole path is trimmed: a key keeps its inner and trailing
        # spaces, since JSON keys may contain them.
        (" spaced key .x", ("spaced key ", "x")),
        ("\tname\n", ("name",)),
        ("with space.under_score.dash-ed.ü", ("with space", "under_score", "dash-ed", "ü")),
    ],
)
def test_parse_valid_paths(text: str, steps: tuple[str | int, ...]) -> None:
    path = parse_path(text)
    assert path == JsonPath(text.strip(), steps)


@pytest.mark.parametrize(
    ("text", "is_list"),
    [
        ("name", False),
        ("products[1].category", False),
        ("[0].id", False),
        ("products[*].title", True),
        ("[*]", True),
    ],
)
def test_is_list_only_with_a_wildcard(text: str, is_list: bool) -> None:
    assert parse_path(text).is_list is is_list


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "a[",
        "a]",
        "a..b",
        "a[x]",
        ".a",
        "a.",
        ".",
        "a[]",
        "a[1",
        "a[+1]",
        "a[ 1 ]",
        "a[1]b",
        "a[**]",
        "[0]x",
        # A bare `*` is not a key: the wildcard is written `[*]`.
        "*",
        "a.*",
        "a.*.b",
    ],
)
def test_parse_invalid_paths(text: str) -> None:
    with pytest.raises(PathSyntaxError):
        parse_path(text)


def test_empty_path_message() -> None:
    with pytest.raises(PathSyntaxError, match=r"^the path is empty$"):
        parse_path("  ")


def test_bare_star_key_message_points_to_the_wildcard() -> None:
    with pytest.raises(PathSyntaxError, match=r"write \[\*\] for every item"):
        parse_path("products.*.title")


def test_path_syntax_error_is_a_value_error() -> None:
    assert issubclass(PathSyntaxError, ValueError)
    assert issubclass(PathNotFoundError, LookupError)


def test_a_key_containing_a_star_is_a_plain_key() -> None:
    assert parse_path("a*b.*x").steps == ("a*b", "*x")
    assert extract({"a*b": {"*x": "star"}}, parse_path("a*b.*x")) == text_value("star")


# --- extract: where ----------------------------------------------------------


def get(path: str, document: object = DOCUMENT) -> Value:
    return extract(document, parse_path(path))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("name", text_value("Shop")),
        ("a.b.c", text_value("deep")),
        ("products[1].category", text_value("office")),
        ("products[0].tags[1]", text_value("b")),
        ("products[-1].title", text_value("Mug")),
        ("products[-3].title", text_value("Lamp")),
        ("matrix[0][1]", number_value(2.0)),
        ("matrix[-2][-1]", number_value(3.0)),
        ("spaced key .x", text_value("kept")),
    ],
)
def test_extract_nested(path: str, expected: Value) -> None:
    assert get(path) == expected


def test_extract_from_a_top_level_list() -> None:
    document = [{"id": "first"}, {"id": "second"}]
    assert get("[0].id", document) == text_value("first")
    assert get("[-1].id", document) == text_value("second")
    assert get("[*].id", document) == list_value(["first", "second"])


@pytest.mark.parametrize(
    "path",
    [
        "missing",
        "a.b.missing",
        "products[3].title",
        "products[-4].title",
        "products[0].missing",
        "name.length",  # a key on a string
        "count.x",  # a key on a number
        "owner.x",  # a key on null
        "products.title",  # a key on a list
        "products.0",  # "0" is a key, and a list has none
        "products[0].tags.a",  # a key on a list that holds that string as an item
        "a[0]",  # an index on an object
        "name[0]",  # an index on a string
        "a[*]",  # [*] on an object
        "name[*]",  # [*] on a string
        "products[*].missing",
        "matrix[2][0]",  # index into an empty list
    ],
)
def test_extract_not_found(path: str) -> None:
    with pytest.raises(PathNotFoundError):
        get(path)


def test_wildcard_fails_when_any_item_lacks_the_key() -> None:
    document = {"items": [{"k": 1}, {"other": 2}]}
    with pytest.raises(PathNotFoundError):
        get("items[*].k", document)


def test_wildcard_over_an_empty_list_is_an_empty_list() -> None:
    value = get("products[1].tags[*]")
    assert value.WhichOneof("kind") == "list"
    assert list(value.list.items) == []
    # Steps after the wildcard have nothing to apply to: still an empty list.
    assert get("items[*].title", {"items": []}) == list_value([])


def test_wildcard_selects_every_item() -> None:
    assert get("products[*].title") == list_value(["Lamp", "Pen", "Mug"])
    assert get("products[*].price") == list_value(["19.5", "2", "7"])


def test_nested_wildcards_flatten() -> None:
    assert get("matrix[*][*]") == list_value(["1", "2", "3"])
    assert get("products[*].tags[*]") == list_value(["a", "b", "c"])


def test_index_after_a_wildcard_applies_to_each_item() -> None:
    document = {"rows": [[1, 2], [3, 4]]}
    assert get("rows[*][-1]", document) == list_value(["2", "4"])


# --- extract: values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("name", text_value("Shop")),
        ("count", number_value(3.0)),
        ("ratio", number_value(0.25)),
        ("products[0].price", number_value(19.5)),
        ("id", text_value("1152921504606846976")),
        ("open", text_value("true")),
        ("closed", text_value("false")),
        ("owner", text_value("")),
        ("meta", text_value('{"city":"Zürich","sizes":[1,2]}')),
        ("meta.sizes", text_value("[1,2]")),
        ("products[1].tags", text_value("[]")),
    ],
)
def test_extracted_values(path: str, expected: Value) -> None:
    value = get(path)
    assert value == expected
    assert value.WhichOneof("kind") == expected.WhichOneof("kind")


def test_bool_is_text_not_number() -> None:
    # bool is an int in Python: make sure it is not stored as 1.0 / 0.0.
    assert get("open").WhichOneof("kind") == "text"
    assert get("[0]", [False]) == text_value("false")


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (MAX_EXACT_INTEGER, number_value(float(2**53))),
        (-MAX_EXACT_INTEGER, number_value(-float(2**53))),
        (MAX_EXACT_INTEGER + 1, text_value("9007199254740993")),
        (-(MAX_EXACT_INTEGER + 1), text_value("-9007199254740993")),
        (0, number_value(0.0)),
        (-7, number_value(-7.0)),
        (1e300, number_value(1e300)),
    ],
)
def test_integer_precision_boundary(number: float, expected: Value) -> None:
    assert MAX_EXACT_INTEGER == 2**53
    assert get("[0]", [number]) == expected


def test_wildcard_of_mixed_items_renders_texts() -> None:
    document = {"v": ["s", 3, 2.5, True, False, None, {"k": "é"}, [1, "x"], -0.5]}
    assert get("v[*]", document) == list_value(
        ["s", "3", "2.5", "true", "false", "", '{"k":"é"}', '[1,"x"]', "-0.5"]
    )


def test_wildcard_keeps_big_integer_ids_exact() -> None:
    # Ids above 2**53 are kept digit for digit as a single value; a list of
    # them must not turn into "1.152921504606847e+18".
    document = {"items": [{"id": 2**60}, {"id": 2**60 + 1}, {"id": -(2**63)}]}
    assert get("items[*].id", document) == list_value(
        ["1152921504606846976", "1152921504606846977", "-9223372036854775808"]
    )


# --- render_json -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        ("", ""),
        (3, "3"),
        (3.0, "3"),
        (-2, "-2"),
        (2.5, "2.5"),
        (0.1, "0.1"),
        (1e20, "1e+20"),
        (2**60, "1152921504606846976"),
        (10**16, "10000000000000000"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        ({}, "{}"),
        ([], "[]"),
        ({"a": 1, "b": [True, None]}, '{"a":1,"b":[true,null]}'),
        (["ü", "日本"], '["ü","日本"]'),
        ({"q": 'say "hi"'}, '{"q":"say \\"hi\\""}'),
    ],
)
def test_render_json(value: object, expected: str) -> None:
    assert render_json(value) == expected


# --- nesting_depth -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("", 0),
        ("1", 0),
        ('"text"', 0),
        ("[]", 1),
        ("{}", 1),
        ('{"a": [1, {"b": [[]]}]}', 5),
        ("[[1], [2, [3]], []]", 3),
        ("[] [] []", 1),
        # Brackets inside strings do not count, escaped quotes included.
        ('"[[[{{{"', 0),
        ('["]]]", "[[[["]', 1),
        ('["\\"[[', 1),  # an escaped quote: the string goes on
        ('"\\\\"[[', 2),  # an escaped backslash: the string ends
        ('{"k\\"[": [1]}', 2),
        # Invalid JSON: at least what a parser reaches before it fails.
        ("[[[[", 4),
        ("]]]][[", 0),
        ('"unterminated [[[', 0),
        ("[1, 2", 1),
    ],
)
def test_nesting_depth(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_nesting_depth_of_a_document_too_deep_to_parse() -> None:
    # json.loads would raise RecursionError on these.
    assert nesting_depth("[" * 100_000 + "]" * 100_000) == 100_000
    assert nesting_depth('{"a":' * 50_000 + "1" + "}" * 50_000) == 50_000
    assert nesting_depth("[{" * 30_000) == 60_000


def test_nesting_depth_of_unbalanced_quotes_is_linear() -> None:
    # An unterminated string swallows the rest in one match; a scan that
    # restarted at every quote would take hours on these.
    assert nesting_depth('"' + '\\"' * 300_000 + "[") == 0
    assert nesting_depth('"\\' * 300_000) == 0
    assert nesting_depth('["' * 300_000) == 150_000  # [ "[" [ "[" …


def test_extract_and_render_stay_flat_on_wide_documents() -> None:
    # Width costs no recursion: [*] over many items and long paths are loops.
    wide = {"items": [{"v": [i]} for i in range(20_000)]}
    assert len(get("items[*].v[0]", wide).list.items) == 20_000
    deep: object = "leaf"
    for _ in range(60):
        deep = {"a": deep}
    assert get(".".join(["a"] * 60), deep) == text_value("leaf")
    assert render_json(deep).count("{") == 60
