"""All IMAP traffic goes through this package, and it only ever reads.

Promises kept here:
- TLS is always verified (system CAs plus ``ca_file``); STARTTLS is refused
  rather than falling back to plaintext when the server does not offer it.
- Folders are opened with EXAMINE (``readonly=True``) and messages fetched with
  ``BODY.PEEK``: no flag is set, nothing is moved or deleted.
- Low-level errors become :mod:`watcher.errors` types with a clear message;
  the password never appears in them.
- A hostile or broken server cannot exhaust memory or hang us: bounded
  literals and answers, a timeout on every read, a liveness check during
  IDLE, and no command ever left waiting for an answer a server lost.

Modules, by seam:

- :mod:`~watcher.mail.errors`: errors turned into the user's;
- :mod:`~watcher.mail.transport`: the bounded imaplib under IMAPClient;
- :mod:`~watcher.mail.adapter`: every private imapclient/imaplib name used;
- :mod:`~watcher.mail.pipeline`: several commands in one write;
- :mod:`~watcher.mail.login`: TLS, LOGIN or OAuth2, capabilities and LIST;
- :mod:`~watcher.mail.learned`: what a server was seen to do wrong, kept;
- :mod:`~watcher.mail.session`: the read-only session, EXAMINE and IDLE;
- :mod:`~watcher.mail.scanning`: search, envelopes, parts, whole messages;
- :mod:`~watcher.mail.requests` and :mod:`~watcher.mail.answers`: what to
  ask and what came back, pure.

Which folders to open is decided in :mod:`watcher.folders` (pure).
"""

from watcher.mail.answers import Envelope, FolderScan, Part, RawMessage
from watcher.mail.errors import translate_errors
from watcher.mail.session import ImapSession
from watcher.mail.transport import MAX_MESSAGE_BYTES

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Envelope",
    "FolderScan",
    "ImapSession",
    "Part",
    "RawMessage",
    "translate_errors",
]
