"""xapi API errors the simulator raises, with their xe texts in the 8.3 / XenServer 8
("coordinator/supporter") wording (xen-api `datamodel_errors.ml`, the C SDK's
`xen_api_failure.h`, and the fact sheet §2.4).

`xe` prints a server error as the error's doc line, then one ``name: value`` line per
parameter (`Cli_util.server_error`). A code that is not in the datamodel table is printed
by the client as ``Error code: ...`` / ``Error parameters: ...`` instead.
"""

from __future__ import annotations

# code -> (doc, parameter names)
ERRORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "INTERNAL_ERROR": (
        "The server failed to handle your request, due to an internal error. "
        "The given message may give details useful for debugging the problem.",
        ("message",),
    ),
    "UUID_INVALID": ("The uuid you supplied was invalid.", ("type", "uuid")),
    "HOST_IS_SLAVE": (
        "You cannot make regular API calls directly on a supporter. Please pass API calls via the coordinator host.",
        ("Master IP address",),
    ),
    "HOST_ITS_OWN_SLAVE": (
        "The host is its own supporter. Please use pool-emergency-transition-to-master or pool-emergency-reset-master.",
        (),
    ),
    "HOST_STILL_BOOTING": ("The host toolstack is still initialising. Please wait.", ()),
    "HOST_UNKNOWN_TO_MASTER": (
        "The coordinator says the server is not known to it. Is the server in the coordinator's database "
        "and pointing to the correct coordinator? Are all servers using the same pool secret?",
        ("host",),
    ),
    "HOST_MASTER_CANNOT_TALK_BACK": (
        "The coordinator reports that it cannot talk back to the supporter on the supplied management IP address.",
        ("ip",),
    ),
    "HOST_HAS_NO_MANAGEMENT_IP": (
        "The server failed to acquire an IP address on its management interface and therefore cannot "
        "contact the coordinator.",
        (),
    ),
    "HOST_BROKEN": (
        "This server failed in the middle of an automatic failover operation and needs to retry the failover action.",
        (),
    ),
    "HOST_IN_EMERGENCY_MODE": ("Cannot perform operation as the host is running in emergency mode.", ()),
    "HA_IS_ENABLED": ("The operation could not be performed because HA is enabled on the Pool", ()),
    "HA_NOT_ENABLED": ("The operation could not be performed because HA is not enabled on the Pool", ()),
    "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED": (
        "This server cannot join the pool because the pool has HA enabled but this server has HA disabled.",
        (),
    ),
    "HA_ABORT_NEW_MASTER": (
        "This server cannot accept the proposed new coordinator setting at this time.",
        ("reason",),
    ),
    "HOST_IS_LIVE": ("This operation cannot be completed because the server is still live.", ("host",)),
    "HOST_HAS_RESIDENT_VMS": (
        "This server cannot be forgotten because there are user VMs still running.",
        ("host",),
    ),
    "HOST_CANNOT_DESTROY_SELF": ("The pool coordinator host cannot be removed.", ("host",)),
    "HOST_NOT_DISABLED": (
        "This operation cannot be performed because the host is not disabled. "
        "Please disable the host and then try again.",
        (),
    ),
    "HOST_OFFLINE": (
        "You attempted an operation which involves a host which could not be contacted.",
        ("host",),
    ),
    "CANNOT_CONTACT_HOST": (
        "Cannot forward messages because the server cannot be contacted. "
        "The server may be switched off or there may be network connectivity problems.",
        ("host",),
    ),
    "POOL_NOT_IN_EMERGENCY_MODE": ("This pool is not in emergency mode.", ()),
    "OPERATION_NOT_ALLOWED": ("You attempted an operation that was not allowed.", ("reason",)),
    "SESSION_AUTHENTICATION_FAILED": (
        "The credentials given by the user are incorrect, so access has been denied, "
        "and you have not been issued a session handle.",
        (),
    ),
    "JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS": (
        "The host joining the pool cannot already be a master of another pool.",
        (),
    ),
    "JOINING_HOST_CONNECTION_FAILED": (
        "There was an error connecting to the host while joining it in the pool.",
        (),
    ),
}

# What an API call to an address that does not answer raises inside xapi, as
# `ExnHelper.string_of_exn` shows it in INTERNAL_ERROR's message.
UNREACHABLE = 'Unix.Unix_error(Unix.EHOSTUNREACH, "connect", "")'
REFUSED = 'Unix.Unix_error(Unix.ECONNREFUSED, "connect", "")'


class ApiError(Exception):
    """A xapi server error: its code and its parameters, already as xe shows them."""

    def __init__(self, code: str, *params: str):
        super().__init__(code, *params)
        self.code = code
        self.params = tuple(params)

    def parts(self) -> tuple[str | None, list[str]]:
        """The doc line and the ``name: value`` lines, or (None, []) for a code xe does not know."""
        known = ERRORS.get(self.code)
        if known is None:
            return None, []
        doc, names = known
        lines = []
        for i in range(max(len(names), len(self.params))):
            name = names[i] if i < len(names) else "<extra>"
            value = self.params[i] if i < len(self.params) else "<unknown>"
            lines.append(f"{name}: {value}")
        return doc, lines

    def text(self) -> str:
        """What xe writes on stderr for this error."""
        doc, lines = self.parts()
        if doc is None:
            return f"Error code: {self.code}\nError parameters: {', '.join(self.params)}\n"
        return "\n".join([doc, *lines]) + "\n"
