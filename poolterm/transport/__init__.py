"""SSH to every host: one verified, persistent connection each, and asyncssh as poolterm uses it."""
