"""xe's record printer against the literal outputs of the fact sheet (docs/xapi.md, "Record layout")."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poolterm.sim.records import field_key, format_minimal, format_record, format_records

H1 = "3f1c2a7e-5b0d-4c1e-9a57-0e6f2b8d4c11"
H2 = "8a2d9b41-7c3e-4f6a-b1d2-5e9c0a3f7b22"


def test_host_list_layout_is_byte_exact():
    rows = [
        [("uuid", "RO", H1), ("name-label", "RW", "xcp-ng-01"), ("name-description", "RW", "Default install")],
        [("uuid", "RO", H2), ("name-label", "RW", "xcp-ng-02"), ("name-description", "RW", "Default install")],
    ]
    assert format_records(rows) == (
        f"uuid ( RO)                : {H1}\n"
        "          name-label ( RW): xcp-ng-01\n"
        "    name-description ( RW): Default install\n"
        "\n\n"
        f"uuid ( RO)                : {H2}\n"
        "          name-label ( RW): xcp-ng-02\n"
        "    name-description ( RW): Default install\n"
        "\n\n"
    )


def test_pool_list_keeps_trailing_space_of_empty_value():
    row = [
        ("uuid", "RO", "b7e3c0d2-1a4f-4e8b-9c6d-2f5a8e1b3c44"),
        ("name-label", "RW", "prod-pool"),
        ("name-description", "RW", ""),
        ("master", "RO", H1),
        ("default-SR", "RW", "6d0e4b1a-9f2c-4a7e-8b3d-1c5f9e2a7d55"),
    ]
    assert format_records([row]) == (
        "uuid ( RO)                : b7e3c0d2-1a4f-4e8b-9c6d-2f5a8e1b3c44\n"
        "          name-label ( RW): prod-pool\n"
        "    name-description ( RW): \n"
        f"              master ( RO): {H1}\n"
        "          default-SR ( RW): 6d0e4b1a-9f2c-4a7e-8b3d-1c5f9e2a7d55\n"
        "\n\n"
    )


def test_params_selection_layout():
    row = [
        ("uuid", "RO", H1),
        ("enabled", "RO", "true"),
        ("address", "RO", "10.0.0.11"),
        ("host-metrics-live", "RO", "true"),
    ]
    assert format_records([row]) == (
        f"uuid ( RO)                 : {H1}\n"
        "              enabled ( RO): true\n"
        "              address ( RO): 10.0.0.11\n"
        "    host-metrics-live ( RO): true\n"
        "\n\n"
    )


@pytest.mark.parametrize(
    "access, key",
    [
        ("RO", "x ( RO)"),
        ("RW", "x ( RW)"),
        ("MRO", "x (MRO)"),
        ("MRW", "x (MRW)"),
        ("SRO", "x (SRO)"),
        ("SRW", "x (SRW)"),
    ],
)
def test_access_suffixes(access, key):
    assert field_key("x", access) == key


def test_deprecated_suffix_and_unknown_access():
    assert field_key("patches", "SRO", deprecated=True) == "patches (SRO) [DEPRECATED]"
    with pytest.raises(ValueError):
        field_key("x", "WO")


def test_no_rows_print_nothing_and_an_empty_record_prints_three_newlines():
    assert format_records([]) == ""
    # `xe host-list params=no-such-field` prints exactly this per host.
    assert format_records([[]]) == "\n\n\n"


def test_single_field_record_is_left_aligned_only():
    assert format_record([("uuid ( RO)", "u")]) == "uuid ( RO)    : u\n\n\n"


def test_minimal_joins_and_escapes():
    assert format_minimal([H1, H2]) == f"{H1},{H2}"
    assert format_minimal(["10.0.0.11", "10.0.0.12"]) == "10.0.0.11,10.0.0.12"
    assert format_minimal(["a,b", "c\\d"]) == "a\\,b,c\\\\d"
    assert format_minimal([]) == ""


def _unescape_split(line: str) -> list[str]:
    out, cur, i = [], [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            cur.append(line[i + 1])
            i += 2
            continue
        if c == ",":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


@given(st.lists(st.text(alphabet="ab,\\ -", min_size=1), min_size=1))
def test_minimal_round_trips(values):
    assert _unescape_split(format_minimal(values)) == values


@given(
    st.lists(
        st.tuples(
            st.text(alphabet="abcdefghij-_", min_size=1, max_size=30),
            st.sampled_from(["RO", "RW", "MRO", "MRW", "SRO", "SRW"]),
            st.text(alphabet="xyz: ;", max_size=20),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_colons_align_after_the_first_line(row):
    text = format_records([row])
    assert text.endswith("\n\n\n")
    lines = text[:-3].split("\n")
    assert len(lines) == len(row)
    width = 4 + max(len(field_key(n, a)) for n, a, _ in row)
    for i, (line, (name, access, value)) in enumerate(zip(lines, row)):
        key = field_key(name, access)
        assert line == (key.ljust(width) if i == 0 else key.rjust(width)) + ": " + value
