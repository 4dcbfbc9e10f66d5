"""asyncssh as poolterm uses it: imported without noise, made cheap once.

Every module that needs asyncssh imports it from here
(``from poolterm.transport.sshlib import asyncssh``), so the import-time warning filter
below and the two process-wide patches apply before any connection exists (on the
asyncssh releases they were written for: :func:`install_patches`).
"""

from __future__ import annotations

import sys
import warnings

from cryptography.utils import CryptographyDeprecationWarning

# asyncssh 2.24.1 names cryptography's DSA classes at import time
# (asyncssh/crypto/misc.py and dsa.py), and cryptography 51.0.1 deprecates DSA,
# warning on each name: ten lines of noise before every command. poolterm never
# uses DSA keys. Silenced for that message, that category and asyncssh's own
# modules only, during the import and after it (a DSA key in known_hosts would
# touch the same names again).
_DSA_NOISE = dict(message="DSA is deprecated", category=CryptographyDeprecationWarning, module=r"asyncssh\.")

with warnings.catch_warnings():
    # Scoped first, so it holds even where an outer filter turns warnings into errors.
    warnings.filterwarnings("ignore", **_DSA_NOISE)
    import asyncssh
warnings.filterwarnings("ignore", **_DSA_NOISE)

from poolterm.transport import asyncssh_logging, asyncssh_padding  # noqa: E402  (asyncssh must be imported quietly first)


def install_patches(version: str) -> tuple[str, ...]:
    """Install the process-wide asyncssh patches written for asyncssh ``version``; the names installed.

    Each patch replaces an asyncssh internal, so it goes in only on the releases it was
    checked against (its ``WRITTEN_FOR``). On any other, asyncssh runs as shipped (correct,
    only slower) and one line on stderr says so: not a warning, which would be an error
    wherever warnings are (the test suite), and which the user cannot act on anyway.
    """
    installed, skipped = [], []
    for patch in (asyncssh_padding, asyncssh_logging):
        if version in patch.WRITTEN_FOR:
            patch.install()
            installed.append(patch.NAME)
        else:
            skipped.append(patch)
    if skipped:
        written_for = ", ".join(sorted({v for patch in skipped for v in patch.WRITTEN_FOR}))
        sys.stderr.write(f"poolterm: asyncssh {version} is not a release poolterm's asyncssh patches were written for "
                         f"({written_for}); running without them\n")
    return tuple(installed)


PATCHES = install_patches(asyncssh.__version__)

__all__ = ["PATCHES", "asyncssh", "install_patches"]
