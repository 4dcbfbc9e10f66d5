"""asyncssh as poolterm uses it: imported without noise, made cheap once.

Every module that needs asyncssh imports it from here
(``from poolterm.transport.sshlib import asyncssh``), so the import-time warning filter
below and the two process-wide patches apply before any connection exists.
"""

from __future__ import annotations

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

# Safe because poolterm and its simulator negotiate no CBC cipher (see _asyncssh_padding).
asyncssh_padding.install()
asyncssh_logging.install()

__all__ = ["asyncssh"]
