"""Real, throwaway servers (Dovecot IMAP) and TLS material for the tests."""
