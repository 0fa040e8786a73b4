"""The e-mail channel: inbound mail in (IMAP, maildir, MTA pipe) and threading."""
