"""The simulator's xapi error table (api_errors.yaml) against the fact sheet's texts (docs/xapi.md, "Error texts")."""

import pytest

from poolterm.sim.api_errors import ERRORS, ERRORS_FILE, ApiError, ErrorTableError, parse

# Quoted from docs/xapi.md, "Error texts", the 8.3 / XenServer 8 wording.
FACT_SHEET = {
    "HOST_IS_SLAVE": ("You cannot make regular API calls directly on a supporter. "
                      "Please pass API calls via the coordinator host.", ("Master IP address",)),
    "HOST_ITS_OWN_SLAVE": ("The host is its own supporter. "
                           "Please use pool-emergency-transition-to-master or pool-emergency-reset-master.", ()),
    "HOST_STILL_BOOTING": ("The host toolstack is still initialising. Please wait.", ()),
    "HOST_UNKNOWN_TO_MASTER": ("The coordinator says the server is not known to it. Is the server in the "
                               "coordinator's database and pointing to the correct coordinator? Are all servers "
                               "using the same pool secret?", ("host",)),
    "HOST_MASTER_CANNOT_TALK_BACK": ("The coordinator reports that it cannot talk back to the supporter on the "
                                     "supplied management IP address.", ("ip",)),
    "HA_IS_ENABLED": ("The operation could not be performed because HA is enabled on the Pool", ()),
    "HOST_IS_LIVE": ("This operation cannot be completed because the server is still live.", ("host",)),
    "CANNOT_CONTACT_HOST": ("Cannot forward messages because the server cannot be contacted. The server may be "
                            "switched off or there may be network connectivity problems.", ("host",)),
    "INTERNAL_ERROR": ("The server failed to handle your request, due to an internal error. The given message "
                       "may give details useful for debugging the problem.", ("message",)),
}


@pytest.mark.parametrize("code", FACT_SHEET)
def test_the_data_file_holds_the_fact_sheets_texts(code):
    assert ERRORS[code] == FACT_SHEET[code]


def test_every_doc_is_one_line_without_stray_spaces():
    # The file wraps long docs inside their quotes; YAML must fold each break into one space.
    for code, (doc, _) in ERRORS.items():
        assert "\n" not in doc and "  " not in doc and doc == doc.strip(), code


def test_xe_prints_the_doc_then_one_line_per_parameter():
    assert ApiError("HOST_IS_LIVE", "8a2d9b41 (xcp-ng-02)").text() == (
        "This operation cannot be completed because the server is still live.\n"
        "host: 8a2d9b41 (xcp-ng-02)\n")
    assert ApiError("NO_SUCH_CODE", "a", "b").text() == "Error code: NO_SUCH_CODE\nError parameters: a, b\n"


def test_the_shipped_file_parses_to_the_loaded_table():
    assert parse(ERRORS_FILE.read_text(encoding="utf-8")) == ERRORS


@pytest.mark.parametrize("text, fragment", [
    ("- HOST_IS_LIVE\n", "expected a mapping"),
    ("HOST_IS_LIVE: just a doc\n", "HOST_IS_LIVE: needs exactly `doc` and `params`"),
    ("HOST_IS_LIVE: {doc: x}\n", "HOST_IS_LIVE: needs exactly `doc` and `params`"),
    ("HOST_IS_LIVE: {doc: x, params: [], extra: 1}\n", "HOST_IS_LIVE: needs exactly `doc` and `params`"),
    ("HOST_IS_LIVE: {doc: 3, params: []}\n", "HOST_IS_LIVE: `doc` must be a string"),
    ("HOST_IS_LIVE: {doc: x, params: host}\n", "HOST_IS_LIVE: `params` must be a list of strings"),
    ("HOST_IS_LIVE: {doc: x, params: [host, 2]}\n", "HOST_IS_LIVE: `params` must be a list of strings"),
    ("7: {doc: x, params: []}\n", "error code 7 is not a string"),
])
def test_a_malformed_entry_is_refused_by_name(text, fragment):
    with pytest.raises(ErrorTableError, match=r"^broken\.yaml:\d+: ") as caught:
        parse(text, "broken.yaml")
    assert fragment in str(caught.value)
