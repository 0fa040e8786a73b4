"""Two-factor sign-in for the agent console (django-otp).

Agents add an authenticator app (TOTP) and get ten one-time recovery codes (static
tokens). After the password, an agent who has an authenticator must enter one of its
codes, or a recovery code, before any console page answers; superusers and Support
Managers must set one up first (``policy.is_required``). ``middleware`` enforces it on
every admin and ``/staff/`` URL; ``services`` holds every write; ``views`` are the
set-up, verification and "Two-factor sign-in" pages under ``/admin/two-factor/``.
"""
