"""Random edits of a valid data file, for the property tests of every loader."""

from __future__ import annotations

from hypothesis import strategies as st


def mutations(pieces: st.SearchStrategy[str], *, lines: int, chars: int) -> st.SearchStrategy[tuple]:
    """One edit: delete, duplicate or swap lines, insert a piece, replace a few characters."""
    return st.one_of(
        st.tuples(st.just("delete"), st.integers(0, lines)),
        st.tuples(st.just("duplicate"), st.integers(0, lines)),
        st.tuples(st.just("swap"), st.integers(0, lines), st.integers(0, lines)),
        st.tuples(st.just("insert"), st.integers(0, chars), pieces),
        st.tuples(st.just("replace"), st.integers(0, chars), st.integers(1, 12), st.text(max_size=8)),
    )


def mutate(text: str, mutation: tuple) -> str:
    lines = text.split("\n")
    kind = mutation[0]
    if kind == "delete":
        del lines[mutation[1] % len(lines)]
    elif kind == "duplicate":
        i = mutation[1] % len(lines)
        lines.insert(i, lines[i])
    elif kind == "swap":
        i, j = mutation[1] % len(lines), mutation[2] % len(lines)
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "insert":
        at = mutation[1] % (len(text) + 1)
        return text[:at] + mutation[2] + text[at:]
    else:
        at = mutation[1] % (len(text) + 1)
        return text[:at] + mutation[3] + text[at + mutation[2]:]
    return "\n".join(lines)
